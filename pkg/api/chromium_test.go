package api_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

// chromium finds the Debian chromium package's browser, installing it when CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "true" {
		t.Skip("chromium is not installed (apt-get install chromium); CI=true installs it")
	}
	t.Log("installing chromium with apt-get")
	for _, args := range [][]string{{"apt-get", "update"}, {"apt-get", "install", "-y", "--no-install-recommends", "chromium", "fonts-dejavu-core"}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium still missing after apt-get install")
	}
	return p
}

type status struct{ now time.Time }

func (s status) QueueStats(context.Context) (map[string]greep.QueueStat, error) {
	return map[string]greep.QueueStat{
		"directory":            {RatePerSecond: 8, Backlog: 3, Dispatched: 1_204, Retries: 2},
		"directory-sweep":      {RatePerSecond: 32, Backlog: 1_850, Dispatched: 13_150, Retries: 11},
		"groupssettings":       {RatePerSecond: 1.1, Backlog: 0, Dispatched: 310},
		"groupssettings-sweep": {RatePerSecond: 0.9, Backlog: 27_400, Dispatched: 17_600},
		"reports":              {RatePerSecond: 0.5, Dispatched: 4},
	}, nil
}

func (s status) QuotaUsage(context.Context) (map[string]greep.QuotaUsage, error) {
	reset := s.now.Add(15 * time.Hour)
	return map[string]greep.QuotaUsage{
		"directory":      {UsedToday: 1_431_000, DailyLimit: 5_000_000, ResetAt: reset},
		"groupssettings": {UsedToday: 41_200, DailyLimit: 100_000, ResetAt: reset},
		"reports":        {UsedToday: 96, DailyLimit: 5_000_000, ResetAt: reset},
	}, nil
}

// TestDashboardInChromium renders the dashboard over an embedded store filled from a
// simulator tenant (plus sync progress, channels, findings and history) in headless
// Chromium, and leaves a screenshot.
func TestDashboardInChromium(t *testing.T) {
	browser := chromium(t)
	e := newEnv(t, 200, 300)
	ctx := context.Background()
	now := time.Now().UTC()

	started := now.Add(-7 * time.Minute)
	if _, err := greep.UpdateStateJSON(ctx, e.store, greep.StateSync, func(s *greep.SyncState) error {
		*s = greep.SyncState{State: "full-sync", Generation: 2, StartedAt: started, LastFullSyncAt: now.Add(-26 * time.Hour), LastResyncAt: now.Add(-40 * time.Minute),
			GroupsTotal: int64(len(e.truth.Groups)), ListingDone: true, GroupsDone: int64(len(e.truth.Groups)) * 2 / 3, Groups: int64(len(e.truth.Groups)), Members: 2_871, Calls: 231,
			Failures: []greep.SyncFailure{{Group: "legal-hold@example.com", Error: "403 forbidden: Not Authorized to access this resource", At: now.Add(-3 * time.Minute)}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := greep.UpdateStateJSON(ctx, e.store, greep.StateChannels, func(cs *[]greep.Channel) error {
		*cs = []greep.Channel{
			{ID: "greep-admin-7f3a", Application: "admin", ResourceID: "r1", Token: "secret", Expiration: now.Add(5*time.Hour + 12*time.Minute), CreatedAt: now.Add(-48 * time.Minute), State: "live"},
			{ID: "greep-groups-19c2", Application: "groups", ResourceID: "r2", Token: "secret", Expiration: now.Add(38 * time.Minute), CreatedAt: now.Add(-5 * time.Hour), State: "live"},
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g := e.truth.Groups
	for i, f := range []greep.Finding{
		{Group: g[3].Email, Rule: "no-public-archive", Field: "whoCanViewGroup", Before: "ANYONE_CAN_VIEW", After: "ALL_MEMBERS_CAN_VIEW"},
		{Group: g[8].Email, Rule: "no-external-posting", Field: "whoCanPostMessage", Before: "ANYONE_CAN_POST", After: "ALL_MEMBERS_CAN_POST"},
		{Group: g[12].Email, Rule: "secure-membership-hidden", Field: "whoCanViewMembership", Before: "ALL_IN_DOMAIN_CAN_VIEW", After: "ALL_MANAGERS_CAN_VIEW"},
	} {
		id := fmt.Sprintf("f%d", i)
		if _, err := e.store.UpdateFinding(ctx, id, func(x *greep.Finding) error {
			f.ID, f.State, f.FirstSeen, f.LastSeen = id, greep.FindingOpen, now.Add(-time.Duration(i+1)*time.Hour), now
			*x = f
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var evs []greep.Event
	var withMembers []int
	for i, grp := range g {
		if len(grp.Members) > 0 {
			withMembers = append(withMembers, i)
		}
	}
	for i := range 8 {
		grp := g[withMembers[i%len(withMembers)]]
		ev := greep.Event{ID: fmt.Sprint("ev", i), Time: now.Add(-time.Duration(8-i) * 3 * time.Minute), Actor: "alice@" + e.sim.Sim.Domain(), Group: grp.Email}
		if i%3 == 2 {
			ev.Event, ev.Setting, ev.OldValue, ev.NewValue = "CHANGE_GROUP_SETTING", "whoCanViewGroup", "ALL_MEMBERS_CAN_VIEW", "ANYONE_CAN_VIEW"
		} else {
			ev.Event, ev.Member = "ADD_GROUP_MEMBER", grp.Members[0].Email
		}
		evs = append(evs, ev)
	}
	if _, err := e.store.AddEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}

	// A day of history in the charts' ring: calls with a daily swell, a sweep's backlog
	// draining, freshness around a minute.
	ring := metrics.NewRing()
	for m := range metrics.RingMinutes {
		at := now.Add(-time.Duration(m) * time.Minute)
		for range 40 + int(30*math.Sin(float64(m)/229)) {
			ring.Feed(metrics.Event{Kind: "call", API: "directory", At: at})
		}
		if m%3 == 0 {
			ring.Feed(metrics.Event{Kind: "call", API: "groupssettings", At: at})
		}
		ring.Set(metrics.SeriesBacklog+"directory-sweep", at, float64(max(0, 3000-m*4)))
		ring.Feed(metrics.Event{Kind: "freshness", Reason: "notification", At: at, Seconds: 60 + 25*math.Sin(float64(m)/37)})
	}
	ops := &opsStatus{status: status{now}}
	a, _ := auth.NewStaticToken(apiToken)
	h, err := api.New(api.Config{Store: e.store, Auth: a, Status: ops, History: ring})
	if err != nil {
		t.Fatal(err)
	}
	// The browser cannot send a bearer token from the command line; a front proxy adds
	// it, as IAP or a signed-in session would.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+apiToken)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	dom := screenshot(t, browser, srv.URL+"/", "dashboard-mid-sync.png")
	for _, want := range []string{
		"<h1>Greep</h1>", "66%", "of 300 groups", // sync progress
		"1,431,000", "5,000,000", "projected", // quota used and projection
		"directory-sweep", "1,850", // queue backlog
		"greep-groups-19c2",                                // channels
		"no-public-archive", g[3].Email, "ANYONE_CAN_POST", // findings
		"CHANGE_GROUP_SETTING", "alice@", // recent changes
		"legal-hold@example.com", // failures
	} {
		if !strings.Contains(dom, want) && !strings.Contains(strings.ToLower(dom), strings.ToLower(want)) {
			t.Errorf("the rendered dashboard lacks %q", want)
		}
	}
	if strings.Contains(dom, "secret") {
		t.Error("the dashboard shows a channel token")
	}

	// Idle: the sync has finished; the charts show the day.
	if _, err := greep.UpdateStateJSON(ctx, e.store, greep.StateSync, func(s *greep.SyncState) error {
		s.State, s.GroupsDone, s.LastFullSyncAt, s.Failures = "idle", s.GroupsTotal, now.Add(-2*time.Minute), nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dom = screenshot(t, browser, srv.URL+"/", "dashboard-idle-charts.png")
	for _, want := range []string{"Last 24 hours", "directory calls/min", "directory-sweep backlog", "notification freshness", "<polyline"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the idle dashboard lacks %q", want)
		}
	}

	// An alert raised: it heads the page.
	ops.raise(alert.Alert{Key: "push-silent", Kind: "push-silent", Since: now.Add(-12 * time.Minute),
		Text: "No push notification for 1h 00m while the resync found 14 changes: push looks broken (check the watch channels)."})
	dom = screenshot(t, browser, srv.URL+"/", "dashboard-alert.png")
	if !strings.Contains(dom, "Alerts (1)") || !strings.Contains(dom, "push looks broken") {
		t.Error("the dashboard does not show the alert raised")
	}
}

// opsStatus adds the alerts firing to the status source. The page's polling may still be
// reading them when the test raises one.
type opsStatus struct {
	status
	mu     sync.Mutex
	alerts []alert.Alert
}

func (o *opsStatus) raise(a alert.Alert) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.alerts = append(o.alerts, a)
}

func (o *opsStatus) Alerts() []alert.Alert {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.alerts)
}

func (o *opsStatus) Projections(context.Context) ([]alert.APIProjection, error) { return nil, nil }

func (o *opsStatus) LastNotifications() map[string]time.Time { return nil }

// screenshot loads url in headless Chromium, saves a screenshot called name (in
// $GREEP_SCREENSHOT_DIR, else a temporary directory), prints its path, and returns the
// DOM as the browser rendered it.
func screenshot(t *testing.T, browser, url, name string) string {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("GREEP_SCREENSHOT_DIR"); d != "" {
		dir = d
	}
	shot := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"), "--window-size=1440,1400", "--screenshot="+shot, "--dump-dom", url)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	fi, err := os.Stat(shot)
	if err != nil || fi.Size() < 20_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	png, _ := os.ReadFile(shot)
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("%s is not a PNG", shot)
	}
	fmt.Printf("dashboard screenshot: %s (%d bytes)\n", shot, fi.Size())
	t.Logf("dashboard screenshot: %s", shot)
	return out.String()
}
