package directory_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

func enqueueRefresh(t *testing.T, e *env, r tasks.Refresh) {
	t.Helper()
	task, err := tasks.New(tasks.QueueDirectory, tasks.PathDirectoryRefresh, "", r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.q.Enqueue(context.Background(), task); err != nil {
		t.Fatal(err)
	}
}

func syncState(t *testing.T, e *env) greep.SyncState {
	t.Helper()
	var st greep.SyncState
	if _, err := greep.LoadState(context.Background(), e.store, greep.StateSync, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func synced(t *testing.T, simCfg workspacesim.Config) *env {
	t.Helper()
	e := newEnv(t, simCfg, syncplan.Resync{})
	if _, err := e.worker.StartFullSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	return e
}

func TestRefreshSeesAChangeAndADeletion(t *testing.T) {
	ctx := context.Background()
	e := synced(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5})
	truth, _ := e.sim.Truth("")
	changed, deleted := truth.Groups[1], truth.Groups[2]
	if err := e.sim.Apply([]workspacesim.Mutation{
		{Op: "addMember", Group: changed.Email, Member: "new@outside.test", Role: "MANAGER"},
		{Op: "deleteGroup", Group: deleted.Email},
	}); err != nil {
		t.Fatal(err)
	}
	before, ran := e.sim.Stats().Calls, len(e.q.ran)
	enqueueRefresh(t, e, tasks.Refresh{Group: changed.Email, Reason: "push"})
	enqueueRefresh(t, e, tasks.Refresh{Group: deleted.Email, Reason: "push"})
	e.q.run()
	after := e.sim.Stats().Calls
	if d := after["directory.groups.get"] - before["directory.groups.get"]; d != 2 {
		t.Errorf("%d groups.get calls, want 2", d)
	}
	if _, err := e.store.Group(ctx, deleted.ID); !errorsIsNotFound(err) {
		t.Errorf("a refresh answered 404 left the group cached: %v", err)
	}
	e.assertTruth(t)
	pages := 0
	for _, q := range e.q.ran[ran:] {
		if q.Path != directory.PathMembersPage {
			continue
		}
		pages++
		if q.Queue != tasks.QueueDirectory {
			t.Errorf("a refresh's member page ran on %s: push work must stay on its lane", q.Queue)
		}
	}
	if want := int(syncplan.MemberCalls(changed.DirectMembersCount + 1)); pages != want {
		t.Errorf("%d member pages read, want %d", pages, want)
	}
}

func TestRefreshRepollsUntilTheChangeShows(t *testing.T) {
	// Reads lag writes by a minute: the refresh right after the change reads the old
	// list, so it is polled again, later, until it shows.
	e := synced(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5, ReadLag: time.Minute})
	truth, _ := e.sim.Truth("")
	g := truth.Groups[3]
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "lagged@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	enqueueRefresh(t, e, tasks.Refresh{Group: g.Email, Reason: "evt1", Expect: []tasks.Expectation{{Member: "lagged@outside.test", Present: true}}})
	e.q.run()
	if len(e.q.Pending()) != 1 {
		t.Fatalf("%d re-polls scheduled, want 1", len(e.q.Pending()))
	}
	var again tasks.Refresh
	if err := json.Unmarshal(e.q.Pending()[0].Body, &again); err != nil || again.Attempt != 1 || e.q.Pending()[0].Path != tasks.PathDirectoryRefresh {
		t.Fatalf("re-poll %s %s: %v", e.q.Pending()[0].Path, e.q.Pending()[0].Body, err)
	}
	e.sim.Advance(2 * time.Minute)
	e.q.release()
	e.q.run()
	if len(e.q.Pending()) != 0 {
		t.Errorf("still re-polling after the change became visible")
	}
	e.assertTruth(t)
	if st := syncState(t, e); len(st.Discrepancies) != 0 {
		t.Errorf("discrepancies: %+v", st.Discrepancies)
	}
}

func TestRefreshRecordsADiscrepancyWhenRepollsRunOut(t *testing.T) {
	e := synced(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5})
	truth, _ := e.sim.Truth("")
	g := truth.Groups[4]
	// The event claims a member that never arrives.
	enqueueRefresh(t, e, tasks.Refresh{Group: g.Email, Reason: "evt2", Expect: []tasks.Expectation{{Member: "ghost@outside.test", Present: true}}})
	for i := 0; i <= syncplan.DefaultRepoll.Attempts; i++ {
		e.q.run()
		e.q.release()
	}
	e.q.run()
	st := syncState(t, e)
	if len(st.Discrepancies) != 1 || st.Discrepancies[0].Group != g.Email {
		t.Fatalf("discrepancies: %+v", st.Discrepancies)
	}
	if len(e.q.Pending()) != 0 {
		t.Errorf("re-polling goes on after the limit")
	}
}

func TestErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	// Rate limits and server errors: answered non-2xx, retried, and the sync still ends
	// equal to the truth.
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 40, Seed: 9, Faults: workspacesim.Faults{RateLimited: 0.2, Unavailable: 0.1}}, syncplan.Resync{})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if e.q.answers[429] == 0 || e.q.answers[503] == 0 {
		t.Errorf("answers %v: want 429s for rate limits and 503s for server errors", e.q.answers)
	}
	if err := e.sim.SetFaults(workspacesim.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.assertTruth(t)

	// A spent daily quota: the task ends 2xx and a copy waits for the reset.
	d := newEnv(t, workspacesim.Config{Users: 40, Groups: 40, Seed: 9, QuotaPerDay: map[string]int64{workspacesim.APIDirectory: 1}}, syncplan.Resync{})
	if _, err := d.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	d.q.run()
	if d.q.answers[429]+d.q.answers[503]+d.q.answers[500] != 0 {
		t.Errorf("answers %v: a spent daily quota must not be retried", d.q.answers)
	}
	if len(d.q.Pending()) == 0 {
		t.Fatal("nothing rescheduled after the daily limit")
	}
	for _, l := range d.q.Pending() {
		if !l.ScheduleTime.After(d.sim.Now()) {
			t.Errorf("rescheduled for %v, before the reset", l.ScheduleTime)
		}
	}
	// The sweep waits for the rescheduled work: it must not finish without it ...
	if _, s, err := d.worker.Progress(ctx); err != nil || !s.Running() {
		t.Fatalf("the sweep ended with work rescheduled after the reset: %+v %v", s, err)
	}
	// ... and day after day (one call a day here) it completes to the truth.
	for day := 0; day < 200; day++ {
		if _, s, _ := d.worker.Progress(ctx); !s.Running() {
			break
		}
		d.sim.Advance(24 * time.Hour)
		d.q.release()
		d.q.run()
	}
	if _, s, err := d.worker.Progress(ctx); err != nil || s.Running() {
		t.Errorf("the sweep did not finish after the resets: %+v %v", s, err)
	}
	d.assertTruth(t)

	// A 4xx other than 404 (here an unknown customer): recorded on the status page, not
	// retried.
	f := newEnv(t, workspacesim.Config{Users: 20, Groups: 10, Seed: 2}, syncplan.Resync{}, func(c *directory.Config) { c.Customer = "C0nope" })
	if _, err := f.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	f.q.run()
	if n := f.q.answers[500] + f.q.answers[503] + f.q.answers[429]; n != 0 {
		t.Errorf("answers %v: a bad request was retried", f.q.answers)
	}
	if st := syncState(t, f); len(st.Failures) != 2 || st.Failures[0].Group != "groups.list" {
		t.Errorf("failures on the status page: %+v", st.Failures)
	}
}

func TestBadRequestsAreRefused(t *testing.T) {
	e := newEnv(t, workspacesim.Config{Users: 10, Groups: 5, Seed: 1}, syncplan.Resync{})
	h := e.worker.Handler()
	call := func(method, path, body string, task bool, header map[string]string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if task {
			req = req.WithContext(queue.WithInfo(req.Context(), queue.Info{Queue: tasks.QueueDirectory}))
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, c := range []struct {
		name         string
		method, path string
		body         string
		task         bool
		header       map[string]string
		want         int
	}{
		{"task path from outside", "POST", directory.PathGroupsPage, `{"generation":1}`, false, nil, 403},
		{"forged App Engine header off App Engine", "POST", tasks.PathDirectoryRefresh, `{"group":"a@b.c"}`, false, map[string]string{"X-AppEngine-QueueName": "directory"}, 403},
		{"cron from outside", "GET", directory.PathCronResync, "", false, map[string]string{"X-Appengine-Cron": "true"}, 403},
		{"malformed body", "POST", tasks.PathDirectoryRefresh, `{"group":`, true, nil, 400},
		{"unknown field", "POST", tasks.PathDirectoryRefresh, `{"group":"a@b.c","x":1}`, true, nil, 400},
		{"huge body", "POST", tasks.PathDirectoryRefresh, `{"group":"` + strings.Repeat("a", 2<<20) + `"}`, true, nil, 413},
		{"refresh without a group", "POST", tasks.PathDirectoryRefresh, `{}`, true, nil, 400},
	} {
		if got := call(c.method, c.path, c.body, c.task, c.header); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestAnOlderReadNeverReplacesAFresherList(t *testing.T) {
	ctx := context.Background()
	e := synced(t, workspacesim.Config{Users: 300, Groups: 210, Seed: 1})
	truth, _ := e.sim.Truth("")
	var g workspacesim.TruthGroup
	for _, c := range truth.Groups {
		if c.DirectMembersCount > syncplan.MembersPageSize {
			g = c
		}
	}
	cached, err := e.store.Group(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A slow run reads page 1 of 2 ...
	slow, _ := tasks.New(tasks.QueueDirectorySweep, directory.PathMembersPage, "", directory.MembersPage{Run: "slow", Group: cached}, time.Time{})
	if code := e.q.deliver(slow); code/100 != 2 {
		t.Fatalf("first page: %d", code)
	}
	next := e.q.Take(queuetest.Path(directory.PathMembersPage))
	if len(next) != 1 {
		t.Fatalf("%d members pages queued after the first, want the slow run's second", len(next))
	}
	page2 := next[0]
	// ... a member is added and a push refresh reads and stores the new list ...
	e.sim.Advance(time.Second)
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "aaa-first@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	enqueueRefresh(t, e, tasks.Refresh{Group: g.Email, Reason: "push"})
	e.q.run()
	// ... then the slow run's last page arrives: it must not put its older list back.
	if code := e.q.deliver(page2); code/100 != 2 {
		t.Fatalf("last page: %d", code)
	}
	e.assertTruth(t)
}
