package api

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

var polyline = regexp.MustCompile(`points="([^"]*)"`)

func TestChartsDrawEveryPointOfTheRing(t *testing.T) {
	ring := metrics.NewRing()
	now := t0.Add(2 * time.Hour)
	// 90 minutes with calls, a minute of them idle in between: 90 points.
	for m := range 90 {
		at := now.Add(-time.Duration(2*m) * time.Minute)
		for range m + 1 {
			ring.Feed(metrics.Event{Kind: "call", API: "directory", At: at})
		}
	}
	ring.Set(metrics.SeriesBacklog+"directory-sweep", now, 1850)
	cs := charts(ring, now)
	if len(cs) != 2 || cs[0].Title != "directory calls/min" || cs[1].Title != "directory-sweep backlog" || cs[1].Latest != "1850" {
		t.Fatalf("charts %+v", cs)
	}
	m := polyline.FindStringSubmatch(string(cs[0].SVG))
	if m == nil || !strings.HasPrefix(string(cs[0].SVG), "<svg ") {
		t.Fatalf("not an SVG polyline: %s", cs[0].SVG)
	}
	pts := strings.Fields(m[1])
	if len(pts) != 90 {
		t.Fatalf("%d points, want 90", len(pts))
	}
	// The newest minute (1 call) is at the right edge near the bottom; the oldest, 178
	// minutes back, is the busiest (90 calls) and at the top.
	if pts[len(pts)-1] != "1439,58.4" {
		t.Errorf("newest point %s, want 1439,58.4", pts[len(pts)-1])
	}
	if pts[0] != "1261,1.0" {
		t.Errorf("oldest point %s, want 1261,1.0", pts[0])
	}
}

func TestLiveDashboardJSON(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	s.history = metrics.NewRing()
	s.history.Feed(metrics.Event{Kind: "call", API: "groupssettings", At: s.now()})
	a := do(t, s.router, "GET", "/dashboard/live?findings=failed", "Authorization", "Bearer "+token)
	if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /dashboard/live: %d %s", a.code, a.body)
	}
	var v liveView
	a.decode(t, &v)
	if v.Now != s.now().UTC().Format("2006-01-02 15:04:05 MST") {
		t.Errorf("now %q", v.Now)
	}
	for _, want := range []string{`<section id="sync">`, `<section id="charts"`, "groupssettings calls/min", "<polyline", "No failed findings."} {
		if !strings.Contains(v.Main, want) {
			t.Errorf("the live view lacks %q", want)
		}
	}
	if strings.Contains(v.Main, "<html") || strings.Contains(v.Main, "<script") {
		t.Error("the live view is the whole page, not its main part")
	}
	// The same authentication as the page: without credentials, no figures.
	if a := do(t, s.router, "GET", "/dashboard/live"); a.code != 401 || strings.Contains(string(a.body), `"main"`) {
		t.Errorf("without credentials: %d %s", a.code, a.body)
	}
	// The page polls it and no longer reloads itself.
	page := do(t, s.router, "GET", "/", "Authorization", "Bearer "+token)
	if body := string(page.body); !strings.Contains(body, `<script src="/dashboard.js"`) || strings.Contains(body, `http-equiv="refresh"`) {
		t.Errorf("the page does not use the live view")
	}
	if js := do(t, s.router, "GET", "/dashboard.js"); js.code != 200 || !strings.Contains(string(js.body), `fetch("/dashboard/live"`) {
		t.Errorf("GET /dashboard.js: %d", js.code)
	}
}

func TestFindingsMostSevereThenNewestFirst(t *testing.T) {
	f := func(id, state, before string, age time.Duration) greep.Finding {
		return greep.Finding{ID: id, State: state, Field: "whoCanViewGroup", Before: before, FirstSeen: t0.Add(-age)}
	}
	fs := []greep.Finding{
		f("old-anyone", greep.FindingOpen, "ANYONE_CAN_VIEW", time.Hour),
		f("new-members", greep.FindingOpen, "ALL_MEMBERS_CAN_VIEW", time.Minute),
		f("domain", greep.FindingOpen, "ALL_IN_DOMAIN_CAN_VIEW", 2*time.Hour),
		f("new-anyone", greep.FindingOpen, "ANYONE_CAN_VIEW", 2*time.Minute),
		f("failed", greep.FindingFailed, "ALL_MEMBERS_CAN_VIEW", 3*time.Hour),
	}
	newestFirst(fs)
	var got []string
	for _, x := range fs {
		got = append(got, x.ID)
	}
	if want := "failed new-anyone old-anyone domain new-members"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
