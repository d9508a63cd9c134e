package queueconfig_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/queueconfig"
)

// sharedYAML is the shipped arrangement: the Reports API counted in the Directory API's
// short window, three lanes splitting that one window.
const sharedYAML = `apis:
  directory:
    shortWindow: {limit: 2400, per: 1m}
    perDay: 1000
    headroom: 0.1
  reports:
    sharesWindowWith: directory
    perDay: 500
queues:
  directory:
    api: directory
    share: 0.3
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
  directory-sweep:
    api: directory
    share: 0.65
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
    background: true
    dailyBudget: 0.5
  reports:
    api: reports
    share: 0.05
    service: reports
    pathPrefix: /tasks/reports/
    concurrency: 1
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
`

func TestSharedWindowIsOnePool(t *testing.T) {
	c, err := queueconfig.Parse("q.yaml", []byte(sharedYAML))
	if err != nil {
		t.Fatal(err)
	}
	// 2400/min * 0.9 / 60 = 36/s for the whole window.
	for name, want := range map[string]struct{ rate, ceiling, pool float64 }{
		"directory":       {10.8, 10.8, 36},
		"directory-sweep": {23.4, 36, 36},
		"reports":         {1.8, 1.8, 36},
	} {
		l, _ := c.Lane(name)
		if got := l.RatePerSecond(); math.Abs(got-want.rate) > 1e-9 {
			t.Errorf("%s rate %v, want %v", name, got, want.rate)
		}
		if got := l.CeilingPerSecond(); math.Abs(got-want.ceiling) > 1e-9 {
			t.Errorf("%s ceiling %v, want %v (a background lane borrows the whole window)", name, got, want.ceiling)
		}
		if got := l.PoolPerSecond(); math.Abs(got-want.pool) > 1e-9 {
			t.Errorf("%s pool rate %v, want %v", name, got, want.pool)
		}
		if l.Pool() != "directory" {
			t.Errorf("%s pool %q, want directory", name, l.Pool())
		}
	}
	if a := c.APIs["reports"]; a.PerDay != 500 || a.PerSecond() != 36 {
		t.Errorf("reports keeps its own daily limit and takes the window: %+v", a)
	}
	scaled, err := c.WithScale(10)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := scaled.Lane("directory-sweep"); math.Abs(l.CeilingPerSecond()-360) > 1e-9 {
		t.Errorf("scaled ceiling %v, want 360", l.CeilingPerSecond())
	}
}

func TestSharedWindowRefusals(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"unknown owner", "sharesWindowWith: directory", "sharesWindowWith: drive", `q.yaml:6: api "reports" sharesWindowWith: "drive" is not declared`},
		{"itself", "sharesWindowWith: directory", "sharesWindowWith: reports", `api "reports" sharesWindowWith: itself`},
		{"own window too", "    sharesWindowWith: directory\n", "    sharesWindowWith: directory\n    headroom: 0.2\n", `q.yaml:8: api "reports" headroom: an API that shares "directory"'s short window`},
		{"no daily limit", "    perDay: 500\n", "", `api "reports": "perDay" is required`},
		{"shares over the pool", "share: 0.05", "share: 0.06", `q.yaml:2: api "directory": the shares of the queues counted in its short window (directory, directory-sweep, reports) add up to 1.01`},
		{"chain", "queues:\n", "  admin:\n    sharesWindowWith: reports\n    perDay: 1\nqueues:\n", `api "admin" sharesWindowWith: "reports" shares "directory"'s window itself`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(sharedYAML, tc.from, tc.to, 1)
			if src == sharedYAML {
				t.Fatalf("case does not change the file: %q", tc.from)
			}
			_, err := queueconfig.Parse("q.yaml", []byte(src))
			if err == nil {
				t.Fatalf("accepted:\n%s", src)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestPlanShowsTheSweepAlone(t *testing.T) {
	c, err := queueconfig.Parse("q.yaml", []byte(sharedYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Plan(36000) {
		if p.Lane != "directory-sweep" {
			continue
		}
		// 36,000 groups at the floor of 23.4/s, and alone at the window's 36/s.
		if p.CeilingPerSecond != 36 || p.Sweep.Round(time.Second) != 1538*time.Second || p.SweepAlone != 1000*time.Second {
			t.Errorf("sweep plan %+v", p)
		}
	}
}

func TestBorrowedRates(t *testing.T) {
	c, err := queueconfig.Parse("q.yaml", []byte(sharedYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		busy []string
		want float64
	}{
		{nil, 36},                                // the whole window
		{[]string{"directory"}, 25.2},            // push busy: the sweep and the idle reports lane's 1.8
		{[]string{"reports"}, 34.2},              // only reports busy
		{[]string{"directory", "reports"}, 23.4}, // its floor
		{[]string{"directory-sweep"}, 36},        // a sweep's own backlog does not hold it back
	} {
		got := c.BorrowedRates(func(l string) bool { return slices.Contains(tc.busy, l) })
		if len(got) != 1 || math.Abs(got["directory-sweep"]-tc.want) > 1e-9 {
			t.Errorf("busy %v: rates %v, want directory-sweep at %v", tc.busy, got, tc.want)
		}
	}
}

func TestBorrowedRatesSplitBetweenSweeps(t *testing.T) {
	// Two sweeps of one window (0.2 and 0.4 of 10/s) share an idle push lane's 4/s by
	// their shares, 1:2.
	src := strings.Replace(sharedYAML, "share: 0.05", "share: 0.4\n    background: true\n    dailyBudget: 0.5", 1)
	src = strings.Replace(src, "share: 0.65", "share: 0.2", 1)
	src = strings.Replace(src, "share: 0.3", "share: 0.4", 1)
	src = strings.Replace(src, "limit: 2400, per: 1m", "limit: 600, per: 1m", 1)
	src = strings.Replace(src, "headroom: 0.1", "headroom: 0", 1)
	c, err := queueconfig.Parse("q.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := c.BorrowedRates(func(string) bool { return false })
	if math.Abs(got["directory-sweep"]-(2+4.0/3)) > 1e-9 || math.Abs(got["reports"]-(4+8.0/3)) > 1e-9 {
		t.Errorf("rates %v, want directory-sweep 3.33 and reports 6.67", got)
	}
}

func TestPlanWarnsWhenASweepCannotReachItsCeiling(t *testing.T) {
	// 30 at once reach the sweep's own 23.4/s but not the window's 36/s it borrows.
	src := strings.Replace(sharedYAML, "concurrency: 5\n    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}\n    background: true", "concurrency: 30\n    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}\n    background: true", 1)
	c, err := queueconfig.Parse("q.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Plan(100) {
		if p.Lane == "directory-sweep" && (len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "concurrency 30 is below the rate (36/s)")) {
			t.Errorf("warnings %q", p.Warnings)
		}
	}
}
