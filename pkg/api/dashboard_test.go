package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func TestQuotaProjection(t *testing.T) {
	reset := t0.Add(18 * time.Hour) // 6 h into the quota day
	for _, c := range []struct {
		used, limit, projected int64
		over, warn             bool
	}{
		{1_000_000, 5_000_000, 4_000_000, false, true},
		{1_500_000, 5_000_000, 6_000_000, true, false},
		{100_000, 5_000_000, 400_000, false, false},
		{0, 0, 0, false, false},
	} {
		v := quotaProjection(t0, "directory", greep.QuotaUsage{UsedToday: c.used, DailyLimit: c.limit, ResetAt: reset})
		if v.Projected != c.projected || v.Over != c.over || v.Warn != c.warn || v.ResetIn != "18h 00m" {
			t.Errorf("used %d of %d 6h into the day: %+v, want projected %d over %v warn %v", c.used, c.limit, v, c.projected, c.over, c.warn)
		}
	}
	// Right after the reset there is no pace to extrapolate from.
	if v := quotaProjection(t0, "d", greep.QuotaUsage{UsedToday: 10, DailyLimit: 100, ResetAt: t0.Add(24*time.Hour - time.Second)}); v.Projected != 10 {
		t.Errorf("projection a second after the reset: %d", v.Projected)
	}
}

func TestBuildDashboard(t *testing.T) {
	started := t0.Add(-10 * time.Minute)
	st := statusAnswer{
		Sync:     syncStatus{State: "full-sync", StartedAt: &started, GroupsTotal: 45000, GroupsDone: 15000, ListingDone: true, Calls: 18000},
		Queues:   map[string]greep.QueueStat{"directory-sweep": {RatePerSecond: 30, Backlog: 900}, "directory": {RatePerSecond: 10}},
		Channels: []channelStatus{{ID: "a", Expiration: t0.Add(30 * time.Minute)}, {ID: "b", Expiration: t0.Add(5 * time.Hour)}},
	}
	evs := []greep.Event{{ID: "1", Time: t0.Add(-2 * time.Minute), Event: "ADD_GROUP_MEMBER"}, {ID: "2", Time: t0.Add(-time.Minute), Event: "CHANGE_GROUP_SETTING", Setting: "whoCanViewGroup", OldValue: "ALL_MEMBERS_CAN_VIEW", NewValue: "ANYONE_CAN_VIEW"}}
	v := buildDashboard(t0, st, nil, false, evs)
	if !v.Sync.Running || v.Sync.Percent != 33 || v.Sync.ETA != "20m 00s" || v.Sync.Rate != "25.0 groups/s, 30.0 calls/s" {
		t.Errorf("sync view %+v", v.Sync)
	}
	if !v.Sync.Stale || v.Sync.Freshness != "never synced" {
		t.Errorf("a cache never synced is not flagged: %+v", v.Sync)
	}
	if len(v.Queues) != 2 || v.Queues[0].Name != "directory" || v.Queues[0].Drain != "empty" || v.Queues[1].Drain != "30s" {
		t.Errorf("queues %+v", v.Queues)
	}
	if !v.Channels[0].Expiring || v.Channels[1].Expiring {
		t.Errorf("channels %+v", v.Channels)
	}
	if v.Events[0].Event != "CHANGE_GROUP_SETTING" || v.Events[0].Detail != "whoCanViewGroup: ALL_MEMBERS_CAN_VIEW → ANYONE_CAN_VIEW" {
		t.Errorf("events not newest first: %+v", v.Events)
	}
}

func TestDashboardLogin(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	// A browser without credentials gets the login form, not JSON.
	a := do(t, s.router, "GET", "/")
	if a.code != 401 || !strings.Contains(string(a.body), `<form method="post" action="/login">`) {
		t.Fatalf("GET / without credentials: %d %s", a.code, a.body)
	}
	csrf, csrfCookie := signInForm(t, s.router)
	post := func(tok string) *http.Response { return postLogin(s.router, "192.0.2.1:1", tok, csrf, csrfCookie) }
	if resp := post("wrong"); resp.StatusCode != 401 || signedIn(resp) {
		t.Errorf("wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := post(token)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].HttpOnly {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	cookie := resp.Cookies()[0]
	a = do(t, s.router, "GET", "/", "Cookie", cookie.String())
	if a.code != 200 || !strings.Contains(string(a.body), "<h1>Greep</h1>") {
		t.Fatalf("dashboard with the cookie: %d %s", a.code, a.body)
	}
	// The cookie opens the dashboard only, never the API.
	do(t, s.router, "GET", "/v1/groups", "Cookie", cookie.String()).googleError(t, 401, "authError")
}
