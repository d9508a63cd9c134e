package settingsworker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/settingsworker"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

type env struct {
	sim    *workspacesim.Sim
	store  *bolt.Store
	queue  *queuetest.Queue
	h      http.Handler
	policy policy
	logs   *observer.ObservedLogs
}

func newEnv(t *testing.T, perDay int64) *env {
	t.Helper()
	ctx := context.Background()
	cfg := workspacesim.Config{Users: 5, Groups: 0, Seed: 3, QuotaPerMinute: -1}
	if perDay > 0 {
		cfg.QuotaPerDay = map[string]int64{workspacesim.APIGroupsSettings: perDay}
	}
	srv, err := workspacesim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "createGroup", Group: "g@example.com",
		Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW", "whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW"}}}); err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	qcfg, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if perDay > 0 {
		qcfg.APIs["groupssettings"].PerDay = perDay
	}
	guard := quota.New(store, qcfg, quota.WithClock(srv.Sim.Now))
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin(),
		Wrap: callbudget.Wrap(guard, callbudget.OnViolation(func(err error) { t.Error(err) }))})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	e := &env{sim: srv.Sim, store: store, queue: &queuetest.Queue{}, logs: logs}
	e.h = settingsworker.New(settingsworker.Config{Store: store, Settings: clients.Settings, Queue: e.queue, Now: srv.Sim.Now, Policy: &e.policy,
		Logger: zap.New(core)}).Handler()
	return e
}

// policy stands in for remediation.PatchCheck: it allows every patch unless told why not.
type policy struct{ refuse string }

func (p *policy) Allow(context.Context, string, map[string]string) (string, error) {
	return p.refuse, nil
}

func (e *env) run(t *testing.T, q, path string, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	return queuetest.Deliver(e.h, queue.Task{Queue: q, Name: "t1", Path: path, Body: b}).Code
}

// taken returns the tasks of path the worker enqueued.
func (e *env) taken(path string) []queue.Task { return e.queue.Accepted(queuetest.Path(path)) }

func TestGetStoresAndAsksForAnEvaluation(t *testing.T) {
	e := newEnv(t, 0)
	code := e.run(t, tasks.QueueSettingsSweep, tasks.PathSettingsGet, tasks.SettingsGet{Group: "G@example.com", Reason: settingsworker.SweepReason("run-7")})
	if code != http.StatusNoContent {
		t.Fatalf("get answered %d", code)
	}
	gs, err := e.store.Settings(context.Background(), "g@example.com")
	if err != nil || gs.Settings["whoCanViewGroup"] != "ANYONE_CAN_VIEW" || gs.Settings["allowExternalMembers"] == "" {
		t.Fatalf("stored %+v, %v", gs, err)
	}
	ev := e.taken(tasks.PathRemediationEvaluate)
	if len(ev) != 1 || ev[0].Queue != tasks.QueueRemediation {
		t.Fatalf("evaluations %+v", ev)
	}
	var b tasks.Evaluate
	_ = json.Unmarshal(ev[0].Body, &b)
	if b.Group != "g@example.com" || b.RunID != "run-7" {
		t.Fatalf("evaluate body %+v", b)
	}
	if got := e.sim.Stats().Calls["groupssettings.groups.get"]; got != 1 {
		t.Fatalf("%d calls", got)
	}
}

func TestGetOfAGroupThatIsGoneIsSettled(t *testing.T) {
	e := newEnv(t, 0)
	if code := e.run(t, tasks.QueueSettings, tasks.PathSettingsGet, tasks.SettingsGet{Group: "nope@example.com"}); code != http.StatusNoContent {
		t.Fatalf("answered %d", code)
	}
	if len(e.taken(tasks.PathRemediationEvaluate)) != 0 {
		t.Fatal("evaluated a group that does not exist")
	}
}

func TestUpstreamTroubleIsRetried(t *testing.T) {
	e := newEnv(t, 0)
	e.sim.SetFaults(workspacesim.Faults{Unavailable: 1})
	code := e.run(t, tasks.QueueSettings, tasks.PathSettingsGet, tasks.SettingsGet{Group: "g@example.com"})
	if code != http.StatusServiceUnavailable {
		t.Fatalf("answered %d, want 503 so the queue retries", code)
	}
	e.sim.SetFaults(workspacesim.Faults{RateLimited: 1})
	if code := e.run(t, tasks.QueueSettings, tasks.PathSettingsGet, tasks.SettingsGet{Group: "g@example.com"}); code != http.StatusTooManyRequests {
		t.Fatalf("rate limited: answered %d, want 429", code)
	}
	if _, err := e.store.Settings(context.Background(), "g@example.com"); err == nil {
		t.Fatal("stored settings from a failed read")
	}
}

func TestSpentBudgetReschedulesAfterTheReset(t *testing.T) {
	e := newEnv(t, 10) // the sweep lane stops at 60%: 6 calls
	for i := range 6 {
		if code := e.run(t, tasks.QueueSettingsSweep, tasks.PathSettingsGet, tasks.SettingsGet{Group: "g@example.com"}); code != http.StatusNoContent {
			t.Fatalf("call %d answered %d", i, code)
		}
	}
	if code := e.run(t, tasks.QueueSettingsSweep, tasks.PathSettingsGet, tasks.SettingsGet{Group: "g@example.com"}); code != http.StatusNoContent {
		t.Fatalf("refused call answered %d", code)
	}
	copies := e.taken(tasks.PathSettingsGet)
	if len(copies) != 1 || copies[0].Queue != tasks.QueueSettingsSweep || !copies[0].ScheduleTime.After(e.sim.Now()) {
		t.Fatalf("rescheduled %+v", copies)
	}
	if got := e.sim.Stats().Calls["groupssettings.groups.get"]; got != 6 {
		t.Fatalf("%d calls reached the API; the guard should have stopped the 7th", got)
	}
	// Push work still has the rest of the day.
	if code := e.run(t, tasks.QueueSettings, tasks.PathSettingsGet, tasks.SettingsGet{Group: "g@example.com"}); code != http.StatusNoContent || e.sim.Stats().Calls["groupssettings.groups.get"] != 7 {
		t.Fatalf("push read: %d", code)
	}
}

func putFinding(t *testing.T, e *env, id, field string) {
	t.Helper()
	if _, err := e.store.UpdateFinding(context.Background(), id, func(f *greep.Finding) error {
		f.ID, f.Group, f.Rule, f.Field, f.State = id, "g@example.com", "r-"+id, field, greep.FindingOpen
		f.Detail = notify.DetailPatchQueued + ": ..."
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPatchFixesAndAnnounces(t *testing.T) {
	e := newEnv(t, 0)
	putFinding(t, e, "f1", "whoCanViewGroup")
	code := e.run(t, tasks.QueueSettings, tasks.PathSettingsPatch, tasks.SettingsPatch{Group: "g@example.com",
		Patch: map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW", "whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW"}, Findings: []string{"f1"}})
	if code != http.StatusNoContent {
		t.Fatalf("patch answered %d", code)
	}
	tr, _ := e.sim.Truth("g@example.com")
	if tr.Groups[0].Settings["whoCanViewGroup"] != "ALL_MEMBERS_CAN_VIEW" {
		t.Fatalf("truth %v", tr.Groups[0].Settings)
	}
	f, _ := e.store.Finding(context.Background(), "f1")
	if f.State != greep.FindingFixed || f.After != "ALL_MEMBERS_CAN_VIEW" {
		t.Fatalf("finding %+v", f)
	}
	gs, _ := e.store.Settings(context.Background(), "g@example.com")
	if gs.Settings["whoCanViewMembership"] != "ALL_MEMBERS_CAN_VIEW" {
		t.Fatalf("stored %v", gs.Settings)
	}
	if n := len(e.taken(notify.Path)); n != 1 {
		t.Fatalf("%d notifications", n)
	}
}

func TestRefusedPatchFailsTheFindings(t *testing.T) {
	e := newEnv(t, 0)
	putFinding(t, e, "f1", "whoCanViewGroup")
	// Narrowing the group alone leaves membership broader than it: Google refuses that.
	code := e.run(t, tasks.QueueSettings, tasks.PathSettingsPatch, tasks.SettingsPatch{Group: "g@example.com",
		Patch: map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"}, Findings: []string{"f1"}})
	if code != http.StatusNoContent {
		t.Fatalf("refused patch answered %d; retrying cannot fix it", code)
	}
	f, _ := e.store.Finding(context.Background(), "f1")
	if f.State != greep.FindingFailed || !strings.Contains(f.Detail, "patch refused") || !strings.Contains(f.Detail, "whoCanViewMembership") {
		t.Fatalf("finding %+v", f)
	}
	if n := len(e.taken(notify.Path)); n != 1 {
		t.Fatalf("%d notifications", n)
	}
	for _, body := range []string{`{"group":"g@example.com","patch":{}}`, `{"group":"g@example.com","patch":{"a":"b"},"x":1}`} {
		req := httptest.NewRequest(http.MethodPost, tasks.PathSettingsPatch, strings.NewReader(body))
		req = req.WithContext(queue.WithInfo(req.Context(), queue.Info{Queue: tasks.QueueSettings}))
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", body, rec.Code)
		}
	}
	if got := e.sim.Stats().Calls["groupssettings.groups.patch"]; got != 1 {
		t.Fatalf("%d patch calls", got)
	}
}

// TestPatchThePolicyRefusesIsNotSent: a patch the rules in force do not ask for (a forged
// or stale task) is answered 2xx so no queue retries it, and neither sent nor recorded.
func TestPatchThePolicyRefusesIsNotSent(t *testing.T) {
	e := newEnv(t, 0)
	putFinding(t, e, "f1", "whoCanViewGroup")
	e.policy.refuse = "the rules do not ask for whoCanViewGroup=ANYONE_CAN_VIEW"
	code := e.run(t, tasks.QueueSettings, tasks.PathSettingsPatch, tasks.SettingsPatch{Group: "g@example.com",
		Patch: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}, Findings: []string{"f1"}})
	if code != http.StatusNoContent {
		t.Fatalf("refused patch answered %d; retrying cannot change the rules", code)
	}
	if got := e.sim.Stats().Calls["groupssettings.groups.patch"]; got != 0 {
		t.Fatalf("%d patch calls", got)
	}
	if f, _ := e.store.Finding(context.Background(), "f1"); f.State != greep.FindingOpen {
		t.Errorf("finding %+v: a refused task must not touch it", f)
	}
}
