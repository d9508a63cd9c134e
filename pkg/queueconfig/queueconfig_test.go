package queueconfig_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/tasks"
)

const valid = `timeZone: America/Los_Angeles
apis:
  directory:
    shortWindow: {limit: 2400, per: 1m}
    perDay: 1000
    subjects: 2
    headroom: 0.25
queues:
  directory:
    api: directory
    share: 0.4
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 10s, maxBackoff: 300s, maxDoublings: 3, maxAttempts: 8}
  directory-sweep:
    api: directory
    share: 0.6
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: -1}
    background: true
    dailyBudget: 0.5
  remediation:
    ratePerSecond: 50
    service: remediation
    pathPrefix: /tasks/remediation/
    concurrency: 3
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
`

func TestParseDerivesRates(t *testing.T) {
	c, err := queueconfig.Parse("q.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	// 2400/min * 2 subjects * 0.75 / 60 = 60/s, split 0.4 / 0.6.
	for name, want := range map[string]float64{"directory": 24, "directory-sweep": 36, "remediation": 50} {
		l, ok := c.Lane(name)
		if !ok {
			t.Fatalf("lane %s missing", name)
		}
		if got := l.RatePerSecond(); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s rate = %v, want %v", name, got, want)
		}
	}
	sweep, _ := c.Lane("directory-sweep")
	if !sweep.Background || sweep.DailyCap() != 500 {
		t.Errorf("sweep background=%v cap=%d, want true 500", sweep.Background, sweep.DailyCap())
	}
	push, _ := c.Lane("directory")
	if push.Background || push.DailyCap() != 1000 {
		t.Errorf("push background=%v cap=%d, want false 1000", push.Background, push.DailyCap())
	}
	if c.TimeZone.String() != "America/Los_Angeles" {
		t.Errorf("zone %s", c.TimeZone)
	}
}

func TestBackoffFollowsCloudTasks(t *testing.T) {
	// Cloud Tasks' documented example: min 10s, max 300s, 3 doublings.
	r := queueconfig.Retry{MinBackoff: 10 * time.Second, MaxBackoff: 300 * time.Second, MaxDoublings: 3}
	want := []int{10, 20, 40, 80, 160, 240, 300, 300}
	for n, w := range want {
		if got := r.Backoff(n); got != time.Duration(w)*time.Second {
			t.Errorf("backoff(%d) = %s, want %ds", n, got, w)
		}
	}
	// Huge retry counts must not overflow into a negative wait.
	if got := r.Backoff(1 << 40); got != 300*time.Second {
		t.Errorf("backoff(huge) = %s", got)
	}
}

func TestParseRefusesWithLine(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown key", "    concurrency: 5\n    retry: {minBackoff: 10s", "    concurrency: 5\n    burst: 3\n    retry: {minBackoff: 10s", `q.yaml:15: unknown key "burst"`},
		{"unknown top key", "timeZone:", "rate: 5\ntimeZone:", `q.yaml:1: unknown key "rate"`},
		{"typed rate on an api lane", "    share: 0.4\n", "    share: 0.4\n    ratePerSecond: 9\n", "q.yaml:12: queue \"directory\" ratePerSecond: a lane that spends"},
		{"share above 1", "share: 0.4", "share: 1.4", "q.yaml:11: queue \"directory\" share: 1.4"},
		{"shares exceed api", "share: 0.4", "share: 0.5", `q.yaml:3: api "directory": the shares`},
		{"negative headroom", "headroom: 0.25", "headroom: -0.1", "q.yaml:7: api \"directory\" headroom"},
		{"zero limit", "limit: 2400", "limit: 0", "q.yaml:4: api \"directory\" shortWindow.limit"},
		{"bad duration", "per: 1m", "per: a minute", "q.yaml:4: api \"directory\" shortWindow.per: \"a minute\" is not a duration"},
		{"not a number", "perDay: 1000", "perDay: lots", "q.yaml:5: api \"directory\" perDay: \"lots\" is not a whole number"},
		{"unknown api", "    api: directory\n    share: 0.4", "    api: directry\n    share: 0.4", `q.yaml:10: queue "directory" api: "directry" is not declared`},
		{"bad service", "service: remediation", "service: cron", `q.yaml:27: queue "remediation" service: "cron"`},
		{"path of another service", "pathPrefix: /tasks/remediation/", "pathPrefix: /tasks/directory/", `q.yaml:28: queue "remediation" pathPrefix`},
		{"backoffs reversed", "maxBackoff: 300s", "maxBackoff: 1s", `q.yaml:15: queue "directory" retry.maxBackoff: 1s`},
		{"zero attempts", "maxAttempts: 8", "maxAttempts: 0", `q.yaml:15: queue "directory" retry.maxAttempts: 0`},
		{"concurrency too high", "concurrency: 3", "concurrency: 5001", `q.yaml:29: queue "remediation" concurrency: 5001`},
		{"budget on push lane", "    share: 0.4\n", "    share: 0.4\n    dailyBudget: 0.5\n", `q.yaml:12: queue "directory" dailyBudget: only background lanes`},
		{"background without budget", "    dailyBudget: 0.5\n", "", `queue "directory-sweep": a background lane needs dailyBudget`},
		{"rate above cloud tasks", "ratePerSecond: 50", "ratePerSecond: 501", `q.yaml:26: queue "remediation" ratePerSecond: 501`},
		{"bad queue name", "  remediation:\n", "  remediation_x:\n", `q.yaml:25: queue "remediation_x": a Cloud Tasks queue name`},
		{"unknown zone", "America/Los_Angeles", "Mars/Olympus", `timeZone: unknown zone "Mars/Olympus"`},
		{"missing retry field", "maxDoublings: 3, ", "", `queue "directory" retry: "maxDoublings" is required`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(valid, tc.from, tc.to, 1)
			if src == valid {
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

func TestParseRefusesEmptyAndMalformed(t *testing.T) {
	for _, src := range []string{"", "queues: [", "- a list\n", "apis: {}\nqueues: {}\n"} {
		if _, err := queueconfig.Parse("q.yaml", []byte(src)); err == nil || !strings.HasPrefix(err.Error(), "q.yaml") {
			t.Errorf("%q: error %v, want one naming the file", src, err)
		}
	}
}

func TestWithScale(t *testing.T) {
	c, err := queueconfig.Parse("q.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.WithScale(10)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Lane("directory")
	if got := l.RatePerSecond(); math.Abs(got-240) > 1e-9 {
		t.Errorf("scaled rate %v, want 240", got)
	}
	if got := l.RetryPolicy().MinBackoff; got != time.Second {
		t.Errorf("scaled min backoff %s, want 1s", got)
	}
	orig, _ := c.Lane("directory")
	if orig.RatePerSecond() != 24 {
		t.Errorf("WithScale changed the original: %v", orig.RatePerSecond())
	}
	if _, err := c.WithScale(0); err == nil {
		t.Error("scale 0 accepted")
	}
}

func TestPlan(t *testing.T) {
	c, err := queueconfig.Parse("q.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	plans := c.Plan(3600)
	byName := map[string]queueconfig.LanePlan{}
	for _, p := range plans {
		byName[p.Lane] = p
	}
	push := byName["directory"]
	// 24/s for a day is 2,073,600, but the daily limit is 1,000.
	if push.CallsPerDay != 1000 || push.Sweep != 150*time.Second || push.SweepDays != 4 {
		t.Errorf("push plan %+v", push)
	}
	sweep := byName["directory-sweep"]
	if sweep.CallsPerDay != 500 || sweep.SweepDays != 8 || len(sweep.Warnings) == 0 {
		t.Errorf("sweep plan %+v", sweep)
	}
}

func TestPlanCapsAtCloudTasksLimit(t *testing.T) {
	src := strings.Replace(valid, "limit: 2400", "limit: 2400000", 1)
	c, err := queueconfig.Parse("q.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.Lane("directory-sweep")
	if l.RatePerSecond() != queueconfig.CloudTasksMaxRate || !l.Capped() {
		t.Errorf("rate %v capped %v", l.RatePerSecond(), l.Capped())
	}
	var warned bool
	for _, p := range c.Plan(0) {
		for _, w := range p.Warnings {
			warned = warned || strings.Contains(w, "capped")
		}
	}
	if !warned {
		t.Error("no warning about the cap")
	}
}

func TestShippedQueuesYAML(t *testing.T) {
	c, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	all := []string{tasks.QueueDirectory, tasks.QueueDirectorySweep, tasks.QueueSettings,
		tasks.QueueSettingsSweep, tasks.QueueReports, tasks.QueueRemediation}
	if m := c.Missing(all...); len(m) > 0 {
		t.Errorf("queues.yaml lacks %v", m)
	}
	for _, p := range c.Plan(queueconfig.DefaultGroups) {
		if p.Background && p.SweepDays != 1 {
			t.Errorf("%s: a sweep of the design tenant should fit in a day: %+v", p.Lane, p)
		}
		if len(p.Warnings) > 0 {
			t.Errorf("%s: %v", p.Lane, p.Warnings)
		}
	}
}
