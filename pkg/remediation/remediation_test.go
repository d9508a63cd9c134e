package remediation

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/tasks"
)

const testRules = `
runCap: 2
maxPatchesPerDay: 2
rules:
  - name: group-not-public
    field: whoCanViewGroup
    unsafe: [ANYONE_CAN_VIEW, ALL_IN_DOMAIN_CAN_VIEW]
    safe: ALL_MEMBERS_CAN_VIEW
secure:
  sentinels: [secure-sentinel@example.com]
  rules:
    - name: moderate-members
      field: whoCanModerateMembers
      unsafe: [ALL_MEMBERS]
      safe: OWNERS_AND_MANAGERS
exemptions:
  - group: public@example.com
    reason: a public list by design
`

var sentinel = greep.Member{ID: "s", Email: "secure-sentinel@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}

func safeSettings() greep.Settings {
	return greep.Settings{
		"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW", "whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW",
		"whoCanDiscoverGroup": "ALL_IN_DOMAIN_CAN_DISCOVER", "whoCanModerateMembers": "ALL_MEMBERS",
		"allowExternalMembers": "false", "whoCanPostMessage": "ALL_MEMBERS_CAN_POST", "archiveOnly": "false",
	}
}

func with(s greep.Settings, kv ...string) greep.Settings {
	out := maps.Clone(s)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func evaluate(t *testing.T, e *env, group, runID string) {
	t.Helper()
	if err := e.svc.Evaluate(context.Background(), tasks.Evaluate{Group: group, RunID: runID}); err != nil {
		t.Fatalf("evaluate %s: %v", group, err)
	}
}

func patches(t *testing.T, e *env) map[string]tasks.SettingsPatch {
	t.Helper()
	out := map[string]tasks.SettingsPatch{}
	for _, task := range e.queue.Take(queuetest.Path(tasks.PathSettingsPatch)) {
		if task.Queue != tasks.QueueSettings {
			t.Errorf("patch on queue %s", task.Queue)
		}
		var p tasks.SettingsPatch
		if err := json.Unmarshal(task.Body, &p); err != nil {
			t.Fatal(err)
		}
		out[p.Group] = p
	}
	return out
}

// tenant stores the groups most tests use: two insecure plain groups, one insecure
// secure group, a secure-looking value on a plain group, an exempt group, a clean one.
func tenant(t *testing.T, e *env) {
	member := greep.Member{ID: "u1", Email: "alice@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	e.group(t, "a@example.com", with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW", "whoCanViewMembership", "ALL_IN_DOMAIN_CAN_VIEW"), member)
	e.group(t, "b@example.com", with(safeSettings(), "whoCanViewGroup", "ALL_IN_DOMAIN_CAN_VIEW"), member)
	e.group(t, "secure@example.com", safeSettings(), member, sentinel) // only the secure rule breaks
	e.group(t, "plain@example.com", safeSettings(), member)            // ALL_MEMBERS moderation: fine here
	e.group(t, "public@example.com", with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW"), member)
	e.group(t, "clean@example.com", with(safeSettings(), "whoCanModerateMembers", "OWNERS_ONLY"), member)
}

var tenantGroups = []string{"a@example.com", "b@example.com", "secure@example.com", "plain@example.com", "public@example.com", "clean@example.com"}

func TestDetectRecordsExactlyTheFindingsAndPatchesNothing(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	tenant(t, e)
	for _, g := range tenantGroups {
		evaluate(t, e, g, "")
	}
	got := map[string]string{}
	for _, f := range e.findings(t, greep.FindingQuery{}) {
		got[f.Group+" "+f.Rule] = f.State + " " + f.Before + "->" + f.After
		if f.ID != FindingID(f.Group, f.Rule) || f.FirstSeen.IsZero() || f.LastSeen.IsZero() {
			t.Errorf("finding %+v", f)
		}
	}
	want := map[string]string{
		"a@example.com group-not-public":             "open ANYONE_CAN_VIEW->ALL_MEMBERS_CAN_VIEW",
		"b@example.com group-not-public":             "open ALL_IN_DOMAIN_CAN_VIEW->ALL_MEMBERS_CAN_VIEW",
		"secure@example.com secure.moderate-members": "open ALL_MEMBERS->OWNERS_AND_MANAGERS",
		"public@example.com group-not-public":        "exempt ANYONE_CAN_VIEW->ALL_MEMBERS_CAN_VIEW",
	}
	if !maps.Equal(got, want) {
		t.Errorf("findings:\n got %v\nwant %v", got, want)
	}
	if p := patches(t, e); len(p) != 0 {
		t.Errorf("detect mode queued patches: %v", p)
	}
	// One announcement per open finding, none for the exempt one.
	if n := len(e.queue.Take(queuetest.Path(notify.Path))); n != 3 {
		t.Errorf("%d notifications queued, want 3", n)
	}
}

func TestRemediateQueuesOneValidPatchPerGroup(t *testing.T) {
	e := newEnv(t, strings.Replace(testRules, "runCap: 2", "runCap: 10", 1), "remediate")
	tenant(t, e)
	for _, g := range tenantGroups {
		evaluate(t, e, g, "run-1")
	}
	p := patches(t, e)
	want := map[string]map[string]string{
		// whoCanViewMembership may not stay broader than the group it belongs to.
		"a@example.com":      {"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW", "whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW"},
		"b@example.com":      {"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"},
		"secure@example.com": {"whoCanModerateMembers": "OWNERS_AND_MANAGERS"},
	}
	if len(p) != len(want) {
		t.Fatalf("patched %v, want %v", keys(p), keys(want))
	}
	for g, w := range want {
		if !maps.Equal(p[g].Patch, w) || p[g].RunID != "run-1" || len(p[g].Findings) != 1 {
			t.Errorf("%s: patch %+v, want %v", g, p[g], w)
		}
	}
	// A finding waiting for its patch is announced with the outcome, not before.
	if n := len(e.queue.Take(queuetest.Path(notify.Path))); n != 0 {
		t.Errorf("%d notifications before the patches ran", n)
	}
	// Re-detection while the patch is queued asks for nothing new.
	for _, g := range tenantGroups {
		evaluate(t, e, g, "run-1")
	}
	if p := patches(t, e); len(p) != 0 {
		t.Errorf("re-detection queued patches again: %v", keys(p))
	}
	f, _ := e.store.Finding(context.Background(), FindingID("a@example.com", "group-not-public"))
	if f.PatchesToday != 1 || !notify.PatchPending(f) {
		t.Errorf("finding after re-detection: %+v", f)
	}
}

func TestRunCapStopsPatchingAndSaysHowToOverride(t *testing.T) {
	e := newEnv(t, testRules, "remediate") // runCap: 2
	tenant(t, e)
	for _, g := range tenantGroups {
		evaluate(t, e, g, "run-1")
	}
	p := patches(t, e)
	if len(p) != 2 {
		t.Fatalf("patched %v, want 2 groups", keys(p))
	}
	var capped []greep.Finding
	for _, f := range e.findings(t, greep.FindingQuery{State: greep.FindingOpen}) {
		if strings.HasPrefix(f.Detail, "run cap reached") {
			capped = append(capped, f)
		}
	}
	if len(capped) != 1 || !strings.Contains(capped[0].Detail, "override with runCap") || !strings.Contains(capped[0].Detail, PathCronSweep+"?cap=N") {
		t.Fatalf("capped findings: %+v", capped)
	}
	// The capped finding is announced (nobody else will fix it today).
	if n := len(e.queue.Take(queuetest.Path(notify.Path))); n != 1 {
		t.Errorf("%d notifications, want the capped finding's", n)
	}
	// A new run with an override patches it.
	if _, err := e.svc.StartSweep(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	var st SweepState
	if _, err := greep.LoadState(context.Background(), e.store, StateSweep, &st); err != nil || st.Cap != 5 {
		t.Fatalf("sweep state %+v, %v", st, err)
	}
	evaluate(t, e, capped[0].Group, st.RunID)
	if p := patches(t, e); len(p) != 1 {
		t.Errorf("override run patched %v", keys(p))
	}
}

func TestPatchLoopGuard(t *testing.T) {
	e := newEnv(t, testRules, "remediate") // maxPatchesPerDay: 2
	ctx := context.Background()
	e.group(t, "loop@example.com", with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW"))
	id := FindingID("loop@example.com", "group-not-public")
	for i := 1; i <= 2; i++ {
		evaluate(t, e, "loop@example.com", "")
		if p := patches(t, e); len(p) != 1 {
			t.Fatalf("round %d: patches %v", i, keys(p))
		}
		// The patch ran (the groupssettings worker's part, here by hand) ...
		if _, err := e.store.UpdateFinding(ctx, id, func(f *greep.Finding) error {
			f.State, f.After, f.Detail = greep.FindingFixed, "ALL_MEMBERS_CAN_VIEW", "fixed by Greep"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// ... and somebody set it back.
		e.clock.Advance(time.Minute)
	}
	evaluate(t, e, "loop@example.com", "")
	if p := patches(t, e); len(p) != 0 {
		t.Fatalf("third patch in a day: %v", p)
	}
	f, _ := e.store.Finding(ctx, id)
	if f.State != greep.FindingFailed || !strings.Contains(f.Detail, "patch-loop guard") {
		t.Fatalf("finding %+v", f)
	}
	// The next day it is patched again.
	e.clock.Advance(24 * time.Hour)
	evaluate(t, e, "loop@example.com", "")
	if p := patches(t, e); len(p) != 1 {
		t.Fatalf("next day: patches %v", keys(p))
	}
}

func TestFixedFindingsAreClosedAndAnnouncedOnce(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	e.group(t, "a@example.com", with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW"))
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts.Add(1) }))
	defer srv.Close()
	e.svc.sender.Poster = &notify.Poster{URL: srv.URL}

	deliver := func() {
		for _, task := range e.queue.Take(queuetest.Path(notify.Path)) {
			if code := queuetest.Deliver(e.h, task).Code; code != http.StatusNoContent {
				t.Fatalf("notify task answered %d", code)
			}
		}
	}
	evaluate(t, e, "a@example.com", "")
	evaluate(t, e, "a@example.com", "") // re-detection
	deliver()
	evaluate(t, e, "a@example.com", "")
	deliver()
	if n := posts.Load(); n != 1 {
		t.Fatalf("%d posts for one new finding", n)
	}
	e.group(t, "a@example.com", safeSettings()) // a person fixed it
	evaluate(t, e, "a@example.com", "")
	evaluate(t, e, "a@example.com", "")
	deliver()
	f, _ := e.store.Finding(context.Background(), FindingID("a@example.com", "group-not-public"))
	if f.State != greep.FindingFixed || f.After != "ALL_MEMBERS_CAN_VIEW" || posts.Load() != 2 || f.NotifiedState != greep.FindingFixed {
		t.Fatalf("after the fix: %+v, %d posts", f, posts.Load())
	}
}

func TestNotificationSurvivesAFailingEndpoint(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	e.group(t, "a@example.com", with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW"))
	var calls atomic.Int32
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "slack is down", http.StatusInternalServerError)
			return
		}
		var body struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("body %v, content type %q", err, r.Header.Get("Content-Type"))
		}
		got = append(got, body.Text)
	}))
	defer srv.Close()
	e.svc.sender.Poster = &notify.Poster{URL: srv.URL}
	evaluate(t, e, "a@example.com", "")
	tasksQueued := e.queue.Take(queuetest.Path(notify.Path))
	if len(tasksQueued) != 1 || tasksQueued[0].Queue != tasks.QueueRemediation {
		t.Fatalf("queued %+v", tasksQueued)
	}
	// The queue retries a task until it answers 2xx.
	var codes []int
	for range 3 {
		codes = append(codes, queuetest.Deliver(e.h, tasksQueued[0]).Code)
	}
	if codes[0] < 500 || codes[1] < 500 || codes[2] != http.StatusNoContent {
		t.Fatalf("answers %v", codes)
	}
	// A late duplicate (redelivery) is not sent again.
	if code := queuetest.Deliver(e.h, tasksQueued[0]).Code; code != http.StatusNoContent || len(got) != 1 {
		t.Fatalf("duplicate: %d, %d messages", code, len(got))
	}
	if !strings.Contains(got[0], "a@example.com") || !strings.Contains(got[0], "ANYONE_CAN_VIEW") {
		t.Errorf("message %q", got[0])
	}
}

func TestMembershipHygieneFindings(t *testing.T) {
	e := newEnv(t, testRules, "remediate")
	ctx := context.Background()
	if err := e.store.PutUsers(ctx, []greep.User{{ID: "u2", PrimaryEmail: "left@example.com", Suspended: true}}); err != nil {
		t.Fatal(err)
	}
	members := []greep.Member{
		{ID: "u2", Email: "left@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"},
		{ID: "x", Email: "vendor@other.org", Role: "MEMBER", Type: greep.TypeUser},
	}
	e.group(t, "g@example.com", safeSettings(), members...) // allowExternalMembers false
	evaluate(t, e, "g@example.com", "")
	fs := e.findings(t, greep.FindingQuery{Group: "g@example.com"})
	if len(fs) != 2 || fs[0].State != greep.FindingOpen || fs[1].State != greep.FindingOpen {
		t.Fatalf("findings %+v", fs)
	}
	if p := patches(t, e); len(p) != 0 {
		t.Fatalf("membership findings patched: %v", p)
	}
	// The vendor leaves: its finding is fixed, the other stays.
	e.group(t, "g@example.com", safeSettings(), members[0])
	evaluate(t, e, "g@example.com", "")
	ext, _ := e.store.Finding(ctx, FindingID("g@example.com", "member.external:vendor@other.org"))
	in, _ := e.store.Finding(ctx, FindingID("g@example.com", "member.inactive:left@example.com"))
	if ext.State != greep.FindingFixed || in.State != greep.FindingOpen {
		t.Fatalf("external %s, inactive %s", ext.State, in.State)
	}
}

func TestChangedByComesFromTheHistory(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	ctx := context.Background()
	now := e.clock.Now()
	if _, err := e.store.AddEvents(ctx, []greep.Event{
		{ID: "1", Time: now.Add(-time.Hour), Actor: "old@example.com", Event: "CHANGE_GROUP_SETTING", Group: "a@example.com", Setting: "WHO_CAN_VIEW_GROUP", NewValue: "ANYONE_CAN_VIEW"},
		{ID: "2", Time: now.Add(-time.Minute), Actor: "mallory@example.com", Event: "CHANGE_GROUP_SETTING", Group: "a@example.com", Setting: "whoCanViewGroup", NewValue: "ANYONE_CAN_VIEW"},
		{ID: "3", Time: now.Add(-time.Second), Actor: "bob@example.com", Event: "CHANGE_GROUP_SETTING", Group: "a@example.com", Setting: "whoCanJoin", NewValue: "ANYONE_CAN_JOIN"},
	}); err != nil {
		t.Fatal(err)
	}
	e.group(t, "a@example.com", with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW"))
	evaluate(t, e, "a@example.com", "")
	f, _ := e.store.Finding(ctx, FindingID("a@example.com", "group-not-public"))
	if f.ChangedBy != "mallory@example.com" {
		t.Fatalf("changedBy = %q", f.ChangedBy)
	}
}

func TestSweepEnqueuesInSlices(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	e.svc.cfg.SliceSize = 4
	e.svc.cfg.SliceEvery = 10 * time.Second
	for i := range 10 {
		e.group(t, string(rune('a'+i))+"@example.com", nil)
	}
	id, err := e.svc.StartSweep(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var reads []tasks.SettingsGet
	slicesRun := 0
	for {
		sl := e.queue.Take(queuetest.Path(PathSweepSlice))
		if len(sl) == 0 {
			break
		}
		for _, task := range sl {
			if slicesRun > 0 && !task.ScheduleTime.After(e.clock.Now()) {
				t.Errorf("slice %d not paced: %v", slicesRun, task.ScheduleTime)
			}
			e.clock.Advance(10 * time.Second)
			if code := queuetest.Deliver(e.h, task).Code; code != http.StatusNoContent {
				t.Fatalf("slice answered %d", code)
			}
			queuetest.Deliver(e.h, task) // a redelivered slice changes nothing
			slicesRun++
			got := e.queue.Take(queuetest.Path(tasks.PathSettingsGet))
			if len(got) > 4 {
				t.Errorf("a slice queued %d reads; the backlog must stay one slice", len(got))
			}
			for _, g := range got {
				if g.Queue != tasks.QueueSettingsSweep {
					t.Errorf("read on %s", g.Queue)
				}
				var b tasks.SettingsGet
				_ = json.Unmarshal(g.Body, &b)
				reads = append(reads, b)
			}
		}
	}
	if slicesRun != 3 || len(reads) != 10 || !strings.HasSuffix(reads[0].Reason, id) {
		t.Fatalf("%d slices, %d reads (%+v)", slicesRun, len(reads), reads)
	}
	var st SweepState
	_, _ = greep.LoadState(context.Background(), e.store, StateSweep, &st)
	if !st.Done || st.Enqueued != 10 {
		t.Fatalf("state %+v", st)
	}
}

func TestTaskEndpointsRefuseOutsiders(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	for _, path := range []string{tasks.PathRemediationEvaluate, notify.Path, PathSweepSlice} {
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{}`)))
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s from outside: %d", path, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathCronSweep, nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("cron from outside: %d", rec.Code)
	}
	for _, body := range []string{`{"group":`, `{"group":"a@x.com","colour":1}`, `{}`} {
		code := queuetest.Deliver(e.h, queue.Task{Path: tasks.PathRemediationEvaluate, Body: []byte(body)}).Code
		if code != http.StatusBadRequest {
			t.Errorf("body %s: %d", body, code)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type fakeQuota struct{ used int64 }

func (q fakeQuota) Usage(context.Context) (map[string]greep.QuotaUsage, error) {
	return map[string]greep.QuotaUsage{"groupssettings": {UsedToday: q.used, DailyLimit: 100000, ResetAt: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}}, nil
}

func TestSweepWaitsForTheResetWhenItsBudgetIsSpent(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	q, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.cfg.Queues, e.svc.cfg.Quota = q, fakeQuota{used: 59950} // the sweep lane stops at 60,000
	e.group(t, "a@example.com", nil)
	if _, err := e.svc.StartSweep(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	sl := e.queue.Take(queuetest.Path(PathSweepSlice))
	if code := queuetest.Deliver(e.h, sl[0]).Code; code != http.StatusNoContent {
		t.Fatalf("slice answered %d", code)
	}
	if reads := e.queue.Take(queuetest.Path(tasks.PathSettingsGet)); len(reads) != 0 {
		t.Fatalf("queued %d reads with the budget spent", len(reads))
	}
	later := e.queue.Take(queuetest.Path(PathSweepSlice))
	if len(later) != 1 || !later[0].ScheduleTime.Equal(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("slice not moved to the reset: %+v", later)
	}
	// After the reset the slice goes ahead.
	e.svc.cfg.Quota = fakeQuota{used: 0}
	e.clock.Advance(22 * time.Hour)
	if code := queuetest.Deliver(e.h, later[0]).Code; code != http.StatusNoContent || len(e.queue.Take(queuetest.Path(tasks.PathSettingsGet))) != 1 {
		t.Fatalf("after the reset: %d", code)
	}
}
