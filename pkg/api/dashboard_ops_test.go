package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/remediation"
)

// Misreport 1 of the issue: mid-sync the dashboard said "96%, 768 of 800 groups, about 1 s
// left" while the listing had further pages to go, and "Cached: 0 groups".
func TestMidSyncProgressWithoutAKnownTotal(t *testing.T) {
	started := t0.Add(-time.Minute)
	st := statusAnswer{Sync: syncStatus{State: "full-sync", StartedAt: &started, GroupsTotal: 800, GroupsDone: 768, Calls: 772}}
	v := buildDashboard(t0, st, nil, false, nil)
	if !v.Sync.Running || v.Sync.TotalKnown || v.Sync.Percent != 0 || v.Sync.ETA != "" {
		t.Errorf("mid-listing: %+v, want running with no percentage and no ETA", v.Sync)
	}
	if v.Sync.Groups != 768 || !v.Sync.CachedSoFar {
		t.Errorf("cached %d (so far %v) while the API serves 768 groups", v.Sync.Groups, v.Sync.CachedSoFar)
	}
	html := render(t, v)
	for _, want := range []string{"768 groups done, 800+ listed so far", "Full sync running", "768 groups so far"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(html, "96%") || strings.Contains(html, " left<") || strings.Contains(html, "about ") {
		t.Error("the page claims a percentage or an ETA before the total is known")
	}

	// Once the listing is complete, the percentage and the ETA are true.
	st.Sync.ListingDone, st.Sync.GroupsTotal = true, 2000
	v = buildDashboard(t0, st, nil, false, nil)
	if v.Sync.Percent != 38 || v.Sync.ETA == "" {
		t.Errorf("with the total known: %+v", v.Sync)
	}
}

// Misreport 2: the settings sweep ran while the dashboard said "idle".
func TestSettingsSweepVisible(t *testing.T) {
	store := fixture()
	started := t0.Add(-10 * time.Minute)
	putState(t, store, remediation.StateSweep, remediation.SweepState{RunID: "sweep-1", StartedAt: started, Enqueued: 400})
	s := newTestServer(t, store, nil)
	s.status = queueStatus{"groupssettings-sweep": {Backlog: 150}}
	st := s.collectStatus(context.Background())
	if st.SettingsSweep == nil || st.SettingsSweep.State != "running" || st.SettingsSweep.Backlog != 150 {
		t.Fatalf("/v1/status settings sweep %+v", st.SettingsSweep)
	}
	html := render(t, buildDashboard(t0, st, nil, false, nil))
	if !strings.Contains(html, `<h2>Settings sweep</h2>`) || !strings.Contains(html, `<div class="big">running</div>`) || !strings.Contains(html, "400 of") {
		t.Errorf("the page does not show the running settings sweep")
	}

	// Every read queued, some still waiting: draining, not idle.
	putState(t, store, remediation.StateSweep, remediation.SweepState{RunID: "sweep-1", StartedAt: started, Enqueued: 550, Done: true, FinishedAt: t0})
	if st := s.collectStatus(context.Background()); st.SettingsSweep.State != "draining" {
		t.Errorf("sweep with reads waiting: %q", st.SettingsSweep.State)
	}
}

// Misreport 3: right after a sweep the straight line projected Groups Settings at 113%;
// the projection that knows the guard's budgets says 45%.
func TestProjectionRightAfterASweepOnTheDashboard(t *testing.T) {
	reset := t0.Add(14 * time.Hour)
	st := statusAnswer{
		Quota:      map[string]greep.QuotaUsage{"groupssettings": {UsedToday: 45000, DailyLimit: 100000, ResetAt: reset}},
		Projection: []quotaProjectionDTO{{API: "groupssettings", Used: 45000, Limit: 100000, Projected: 45504, Push: 504, ResetAt: reset}},
	}
	v := buildDashboard(t0, st, nil, false, nil)
	if len(v.Quota) != 1 || v.Quota[0].ProjPct != 45 || v.Quota[0].Over || v.Quota[0].Warn {
		t.Errorf("quota view %+v, want 45%% and no warning", v.Quota)
	}
	if straight := quotaProjection(t0, "groupssettings", st.Quota["groupssettings"]); !straight.Over {
		t.Errorf("the straight line (the old report) was expected over 100%%: %+v", straight)
	}
}

func TestAlertsOnTheDashboardAndInTheStatus(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	a := alert.Alert{Key: "store-writes", Kind: alert.KindStoreWrites, Text: "store writes are failing: no space left on device", Since: t0}
	s.status = opsStatus{alerts: []alert.Alert{a}}
	st := s.collectStatus(context.Background())
	if len(st.Alerts) != 1 || st.Alerts[0].Key != "store-writes" {
		t.Fatalf("/v1/status alerts %+v", st.Alerts)
	}
	html := render(t, buildDashboard(t0.Add(time.Minute), st, nil, false, nil))
	if !strings.Contains(html, "no space left on device") || !strings.Contains(html, "Alerts (1)") {
		t.Error("the page does not show the alert")
	}
}

type queueStatus map[string]greep.QueueStat

func (q queueStatus) QueueStats(context.Context) (map[string]greep.QueueStat, error) { return q, nil }
func (q queueStatus) QuotaUsage(context.Context) (map[string]greep.QuotaUsage, error) {
	return nil, nil
}

func putState(t *testing.T, s *memStore, name string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateState(context.Background(), name, func([]byte) ([]byte, error) { return b, nil }); err != nil {
		t.Fatal(err)
	}
}

type opsStatus struct {
	fakeStatus
	alerts []alert.Alert
}

func (o opsStatus) Alerts() []alert.Alert { return o.alerts }
func (o opsStatus) Projections(context.Context) ([]alert.APIProjection, error) {
	return nil, nil
}
func (o opsStatus) LastNotifications() map[string]time.Time { return nil }

func render(t *testing.T, v dashboardView) string {
	t.Helper()
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, "dashboard.html", v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
