package reports_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// refuser answers activities.list calls with Google's 429 while refuse is set.
type refuser struct {
	base   http.RoundTripper
	refuse atomic.Bool
	lists  atomic.Int64 // activities.list calls let through
}

func (r *refuser) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/activity/users/") {
		if r.refuse.Load() {
			body := `{"error":{"code":429,"message":"Quota exceeded","errors":[{"reason":"rateLimitExceeded","domain":"usageLimits","message":"Quota exceeded"}]}}`
			return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests",
				Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
		}
		r.lists.Add(1)
	}
	return r.base.RoundTrip(req)
}

// newBackfillEnv is newEnv with the backfill on: the worker records through a webhook
// of its own, as pkg/wiring builds it.
func newBackfillEnv(t *testing.T) (*env, *refuser) {
	t.Helper()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 10, Groups: 3, Seed: 1, Start: start, QuotaPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	q := &queuetest.Queue{}
	hook := httptest.NewServer(push.New(store, q, push.Config{Now: srv.Sim.Now}))
	t.Cleanup(hook.Close)
	rf := &refuser{}
	clients, err := workspace.New(context.Background(), workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin(),
		Wrap: func(rt http.RoundTripper) http.RoundTripper { rf.base = rt; return rf }})
	if err != nil {
		t.Fatal(err)
	}
	w, err := reports.New(store, clients.Reports, q, reports.Config{Address: hook.URL + push.Path, Now: srv.Sim.Now,
		Record: push.New(store, q, push.Config{Now: srv.Sim.Now}), History: store, HTTP: clients.HTTP})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: srv.Sim, store: store, queue: q, worker: w, tasks: w.Handler(false)}, rf
}

// runBackfill delivers backfill tasks until none is left and returns how many ran.
func (e *env) runBackfill(t *testing.T) int {
	t.Helper()
	n := 0
	for {
		due := e.queue.Take(queuetest.Path(reports.PathBackfill))
		if len(due) == 0 {
			return n
		}
		for _, task := range due {
			n++
			if w := queuetest.Deliver(e.tasks, task); w.Code/100 != 2 {
				t.Fatalf("backfill task %s: status %d (%s)", task.Body, w.Code, w.Body)
			}
		}
	}
}

func (e *env) backfill(t *testing.T, app string) reports.Backfill {
	t.Helper()
	var b reports.Backfill
	if _, err := greep.LoadState(context.Background(), e.store, reports.BackfillState(app), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) apply(t *testing.T, muts ...workspacesim.Mutation) {
	t.Helper()
	if err := e.sim.Apply(muts); err != nil {
		t.Fatal(err)
	}
}

func guests(group string, from, n int) []workspacesim.Mutation {
	var muts []workspacesim.Mutation
	for i := from; i < from+n; i++ {
		muts = append(muts, workspacesim.Mutation{Op: "addMember", Group: group, Member: fmt.Sprintf("guest%04d@outside.example", i)})
	}
	return muts
}

// TestBackfillResumesFromLastEvent: with no channel, changes before the last event seen
// are not listed again, and those after it are recorded, with their actor, and their
// groups' refreshes enqueued as push would.
func TestBackfillResumesFromLastEvent(t *testing.T) {
	e, rf := newBackfillEnv(t)
	ctx := context.Background()
	const group = "backfill@example.com"
	e.apply(t, workspacesim.Mutation{Op: "createGroup", Group: group})
	e.sim.Advance(time.Minute)
	last := e.sim.Now()
	if _, err := e.store.AddEvents(ctx, []greep.Event{{ID: "seen", Time: last, Application: "admin", Event: "ADD_GROUP_MEMBER", Group: "other@example.com"}}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Minute)
	e.apply(t, workspacesim.Mutation{Op: "addMember", Group: group, Member: "late@outside.example", Actor: e.sim.Admin()})
	e.apply(t, workspacesim.Mutation{Op: "setSettings", Group: group, Settings: map[string]string{"whoCanJoin": "ANYONE_CAN_JOIN"}})
	e.sim.Advance(10 * time.Minute)

	if err := e.worker.StartBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	if b := e.backfill(t, "admin"); !b.Running || !b.StartTime.Equal(last) {
		t.Fatalf("admin backfill %+v, want running from the last event seen %v", b, last)
	}
	e.runBackfill(t)
	evs := e.events(t, group)
	names := map[string]int{}
	for _, ev := range evs {
		names[ev.Event]++
		if ev.Actor == "" {
			t.Errorf("backfilled event %+v has no actor", ev)
		}
	}
	if len(evs) != 2 || names["ADD_GROUP_MEMBER"] != 1 || names["CHANGE_GROUP_SETTING"] != 1 {
		t.Errorf("history of %s after the backfill: %+v; want the member add and the setting change, not the creation before the last event", group, evs)
	}
	if b := e.backfill(t, "admin"); b.Running || b.Recorded != 2 || b.Pages != 1 || !b.Through.Equal(b.EndTime) {
		t.Errorf("admin backfill after its run %+v, want done with 2 recorded in one page", b)
	}
	if n := rf.lists.Load(); n != 2 {
		t.Errorf("%d activities.list calls, want 2 (one page per application)", n)
	}
	var refresh, settings int
	for _, task := range e.queue.Take() {
		switch task.Path {
		case tasks.PathDirectoryRefresh:
			refresh++
		case tasks.PathSettingsGet:
			settings++
		}
	}
	if refresh != 1 || settings != 1 {
		t.Errorf("backfill enqueued %d refreshes and %d settings reads of %s, want 1 and 1", refresh, settings, group)
	}
}

// TestBackfillNoDuplicates: a backfill over changes push already delivered (a backfill
// started before the channel's notifications landed) records none of them again.
func TestBackfillNoDuplicates(t *testing.T) {
	e, _ := newBackfillEnv(t)
	ctx := context.Background()
	const group = "pushed@example.com"
	if err := e.worker.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.runTasks(t)
	e.runBackfill(t) // the first start's: nothing to list yet
	from := e.sim.Now()
	muts := append([]workspacesim.Mutation{{Op: "createGroup", Group: group}}, guests(group, 0, 5)...)
	e.apply(t, muts...)
	if got := e.waitEvents(t, group, len(muts)); len(got) != len(muts) {
		t.Fatalf("push delivered %d of %d events", len(got), len(muts))
	}
	e.waitPushes(t)
	e.sim.Advance(10 * time.Minute)
	_, err := greep.UpdateStateJSON(ctx, e.store, reports.BackfillState("admin"), func(b *reports.Backfill) error {
		*b = reports.Backfill{Application: "admin", Running: true, StartTime: from, EndTime: e.sim.Now()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.worker.StartBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	e.runBackfill(t)
	if evs := e.events(t, group); len(evs) != len(muts) {
		t.Errorf("history holds %d events of %s after the backfill, want %d: %+v", len(evs), group, len(muts), evs)
	}
	if b := e.backfill(t, "admin"); b.Running || b.Pages != 1 || b.Recorded != 0 {
		t.Errorf("admin backfill %+v, want done in one page with nothing new", b)
	}
}

// TestBackfillQuotaRefusalResumesAtSamePage: a page refused with 429 fails its task, keeps
// the backfill's state, and the retry lists that same page; nothing is lost or doubled.
func TestBackfillQuotaRefusalResumesAtSamePage(t *testing.T) {
	e, rf := newBackfillEnv(t)
	ctx := context.Background()
	const group = "big@example.com"
	if _, err := e.store.AddEvents(ctx, []greep.Event{{ID: "seen", Time: e.sim.Now(), Application: "admin", Event: "ADD_GROUP_MEMBER", Group: "other@example.com"}}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Minute)
	n := reports.BackfillPageSize + 200
	e.apply(t, append([]workspacesim.Mutation{{Op: "createGroup", Group: group}}, guests(group, 0, n-1)...)...)
	e.sim.Advance(10 * time.Minute)
	if err := e.worker.StartBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	first := e.queue.Take(queuetest.Path(reports.PathBackfill), func(t queue.Task) bool { return strings.Contains(string(t.Body), `"admin"`) })
	if len(first) != 1 {
		t.Fatalf("%d first-page tasks of the admin backfill, want 1", len(first))
	}
	if w := queuetest.Deliver(e.tasks, first[0]); w.Code/100 != 2 {
		t.Fatalf("first page: status %d (%s)", w.Code, w.Body)
	}
	page := e.backfill(t, "admin")
	if page.PageToken == "" || page.Recorded != reports.BackfillPageSize {
		t.Fatalf("after the first page %+v, want a page token and %d recorded", page, reports.BackfillPageSize)
	}

	rf.refuse.Store(true)
	second := e.queue.Take(queuetest.Path(reports.PathBackfill), func(t queue.Task) bool { return strings.Contains(string(t.Body), `"admin"`) })
	if len(second) != 1 {
		t.Fatalf("%d second-page tasks, want 1", len(second))
	}
	if w := queuetest.Deliver(e.tasks, second[0]); w.Code/100 == 2 {
		t.Fatalf("refused page: status %d, want a failure the queue retries", w.Code)
	}
	if b := e.backfill(t, "admin"); b.PageToken != page.PageToken || b.Pages != 1 || !b.Running {
		t.Fatalf("after the refusal %+v, want the state of the first page kept (%q)", b, page.PageToken)
	}

	rf.refuse.Store(false)
	if w := queuetest.Deliver(e.tasks, second[0]); w.Code/100 != 2 {
		t.Fatalf("retried page: status %d (%s)", w.Code, w.Body)
	}
	e.runBackfill(t)
	if evs := e.events(t, group); len(evs) != n {
		t.Errorf("history holds %d events of %s, want %d", len(evs), group, n)
	}
	if b := e.backfill(t, "admin"); b.Running || b.Pages != 2 || b.Recorded != n {
		t.Errorf("admin backfill %+v, want done in 2 pages with %d recorded", b, n)
	}
}

// TestBackfillStartsWhereTheHistoryWasComplete: with Through known, a restart backfills
// from it, not from the last event seen, which may have been pushed after a gap.
func TestBackfillStartsWhereTheHistoryWasComplete(t *testing.T) {
	e, _ := newBackfillEnv(t)
	ctx := context.Background()
	const group = "gap@example.com"
	through := e.sim.Now()
	if _, err := greep.UpdateStateJSON(ctx, e.store, reports.BackfillState("admin"), func(b *reports.Backfill) error {
		*b = reports.Backfill{Application: "admin", Through: through}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Minute)
	e.apply(t, workspacesim.Mutation{Op: "createGroup", Group: group}) // in the gap: never pushed
	e.sim.Advance(time.Minute)
	if _, err := e.store.AddEvents(ctx, []greep.Event{{ID: "pushed-after", Time: e.sim.Now(), Application: "admin", Event: "ADD_GROUP_MEMBER", Group: "other@example.com"}}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Minute)
	if err := e.worker.StartBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	if b := e.backfill(t, "admin"); !b.Running || !b.StartTime.Equal(through) {
		t.Fatalf("admin backfill %+v, want running from Through %v", b, through)
	}
	e.runBackfill(t)
	if evs := e.events(t, group); len(evs) != 1 || evs[0].Event != "CREATE_GROUP" {
		t.Errorf("history of %s after the backfill: %+v, want its creation", group, evs)
	}
}
