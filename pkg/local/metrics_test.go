package local_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// scrape reads /metrics as Prometheus does and parses it with the library's own parser.
func scrape(t *testing.T, app *local.App, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	return res.StatusCode, fams
}

// value sums the series of a family whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			ok = ok && labels[want[i]] == want[i+1]
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// Must-show 3: /metrics scraped during a scenario (a sync, a pushed change, the settings
// sweep and its findings), every family present with plausible values.
func TestMetricsScrapedDuringAScenario(t *testing.T) {
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.NoPush, cfg.NoRemediation = false, false
	cfg.Rules = "../../deploy/remediation.yaml"
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())

	if code, _ := scrape(t, app, ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without credentials: %d, want 401", code)
	}
	if _, fams := scrape(t, app, cfg.APIToken); value(fams, "greep_queue_backlog") < 0 {
		t.Fatal("the first scrape, mid-sync, has no queue backlog")
	}
	waitSynced(t, app)

	waitChannels(t, sim.Sim)
	truth, _ := sim.Sim.Truth("")
	g := truth.Groups[0]
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "scraped@outside.test"}}); err != nil {
		t.Fatal(err)
	}

	// Poll until the pushed change is measured and the settings sweep found something.
	var fams map[string]*dto.MetricFamily
	wait.Until(t, time.Minute, func() error {
		_, fams = scrape(t, app, cfg.APIToken)
		// A call in flight is counted by the simulator before Greep hears its answer:
		// the counts are compared once the settings sweep is quiet.
		st := sim.Sim.Stats()
		if value(fams, "greep_freshness_seconds", "kind", "notification_to_visible") >= 1 &&
			value(fams, "greep_findings", "state", "open") > 0 &&
			value(fams, "greep_google_api_calls_total", "method", "groupssettings.groups.get") == float64(st.Calls["groupssettings.groups.get"]) &&
			value(fams, "greep_queue_backlog", "queue", "groupssettings-sweep") == 0 {
			return nil
		}
		return fmt.Errorf("no freshness or findings measured: freshness %v, findings %v",
			value(fams, "greep_freshness_seconds"), value(fams, "greep_findings"))
	})

	families := []string{
		"greep_google_api_calls_total", "greep_quota_used_today", "greep_quota_daily_limit", "greep_quota_lane_cap",
		"greep_queue_backlog", "greep_queue_dispatched_total", "greep_queue_retries_total",
		"greep_queue_oldest_task_age_seconds", "greep_queue_rate_per_second",
		"greep_freshness_seconds", "greep_push_notifications_total", "greep_push_last_notification_timestamp_seconds",
		"greep_store_errors_total", "greep_sync_state", "greep_sync_groups_done", "greep_sync_groups_listed",
		"greep_sync_calls", "greep_sync_last_full_timestamp_seconds", "greep_cache_groups", "greep_cache_members",
		"greep_settings_sweep_running", "greep_settings_sweep_reads_enqueued", "greep_settings_sweep_started_timestamp_seconds",
		"greep_findings", "greep_findings_truncated", "greep_resync_changes_total",
	}
	for _, name := range families {
		if fams[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}

	st := sim.Sim.Stats()
	// Greep's count of its own calls equals the simulator's count of what it answered.
	for _, method := range []string{"directory.groups.list", "directory.members.list", "groupssettings.groups.get"} {
		if got, want := value(fams, "greep_google_api_calls_total", "method", method), float64(st.Calls[method]); got != want || got == 0 {
			t.Errorf("%s: %v calls counted, the simulator answered %v", method, got, want)
		}
	}
	if n := value(fams, "greep_google_api_calls_total", "outcome", "refused"); n != 0 {
		t.Errorf("%v calls refused by the guard on a small tenant", n)
	}
	if used, calls := value(fams, "greep_quota_used_today", "api", "directory"), value(fams, "greep_google_api_calls_total", "api", "directory"); used < calls || used == 0 {
		t.Errorf("directory quota used %v, but %v directory calls were made", used, calls)
	}
	if lim := value(fams, "greep_quota_daily_limit", "api", "groupssettings"); lim != 100000 {
		t.Errorf("groupssettings daily limit %v, want queues.yaml's 100000", lim)
	}
	if c := value(fams, "greep_quota_lane_cap", "lane", "groupssettings-sweep"); c != 60000 {
		t.Errorf("the settings sweep lane's cap %v, want 60%% of 100000", c)
	}
	if d := value(fams, "greep_queue_dispatched_total", "queue", "directory-sweep"); d < float64(len(truth.Groups)) {
		t.Errorf("directory-sweep dispatched %v tasks for %d groups", d, len(truth.Groups))
	}
	if r := value(fams, "greep_queue_rate_per_second", "queue", "directory"); r <= 0 {
		t.Errorf("directory queue rate %v", r)
	}
	if v := value(fams, "greep_sync_state", "state", "idle"); v != 1 {
		t.Errorf("sync state idle = %v after the sync", v)
	}
	if done, groups := value(fams, "greep_sync_groups_done"), value(fams, "greep_cache_groups"); groups != float64(len(truth.Groups)) || done != groups {
		t.Errorf("sync done %v, cache groups %v, the tenant has %d", done, groups, len(truth.Groups))
	}
	if v := value(fams, "greep_sync_last_full_timestamp_seconds"); v < float64(sim.Sim.Now().Add(-24*time.Hour).Unix()) {
		t.Errorf("last full sync at %v", v)
	}
	if v := value(fams, "greep_push_notifications_total", "outcome", "accepted"); v < 1 {
		t.Errorf("%v notifications accepted", v)
	}
	if v := value(fams, "greep_push_notifications_total", "outcome", "refused"); v > 0 {
		t.Errorf("%v notifications refused", v)
	}
	if v := value(fams, "greep_store_errors_total"); v != 0 {
		t.Errorf("%v store errors on a healthy disk", v)
	}
	if v := value(fams, "greep_settings_sweep_started_timestamp_seconds"); v <= 0 {
		t.Errorf("settings sweep started at %v", v)
	}
	h := fams["greep_freshness_seconds"].GetMetric()
	for _, m := range h {
		if hist := m.GetHistogram(); hist.GetSampleCount() > 0 && hist.GetSampleSum() <= 0 {
			t.Errorf("freshness %v: %d samples summing to %v s", m.GetLabel(), hist.GetSampleCount(), hist.GetSampleSum())
		}
	}
	if t.Failed() {
		var b strings.Builder
		for _, f := range fams {
			expfmt.MetricFamilyToText(&b, f)
		}
		t.Log(b.String())
	}
}
