package directory_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// runner is a synchronous stand-in for the dispatcher on a queuetest.Queue: it runs tasks
// one by one through the worker's handler, retries non-2xx answers and holds tasks
// scheduled for later until the test releases them.
type runner struct {
	*queuetest.Queue
	t       *testing.T
	h       http.Handler
	mu      sync.Mutex
	ready   []queue.Task // due, released, or to be retried, in the order they run
	answers map[int]int
	ran     []queue.Task
	// twice delivers every task a second time after it succeeded, as an at-least-once
	// queue may.
	twice       bool
	evaluations []queue.Task
}

// run delivers due tasks until none is left; a task answered non-2xx is retried up to
// 20 times.
func (r *runner) run() {
	r.t.Helper()
	attempts := map[string]int{} // by task: a queue.Task is not comparable
	for {
		r.mu.Lock()
		r.ready = append(r.ready, r.Take(queuetest.DueBy(time.Now()))...)
		if len(r.ready) == 0 {
			r.mu.Unlock()
			return
		}
		t := r.ready[0]
		r.ready = r.ready[1:]
		r.mu.Unlock()

		code := r.deliver(t)
		if r.twice && code/100 == 2 {
			code = r.deliver(t)
		}
		r.mu.Lock()
		r.answers[code]++
		r.ran = append(r.ran, t)
		if code/100 != 2 {
			key := t.Queue + "|" + t.Name + "|" + t.Path + "|" + string(t.Body)
			if attempts[key]++; attempts[key] > 20 {
				r.mu.Unlock()
				r.t.Fatalf("task %s %s keeps failing with %d", t.Path, t.Body, code)
			}
			r.ready = append(r.ready, t)
		}
		r.mu.Unlock()
	}
}

// deliver runs t through the worker; a remediation evaluation (queued for the groups of a
// user whose status changed) is kept in evaluations instead, for the test to look at.
func (r *runner) deliver(t queue.Task) int {
	if t.Queue == tasks.QueueRemediation {
		r.mu.Lock()
		r.evaluations = append(r.evaluations, t)
		r.mu.Unlock()
		return http.StatusOK
	}
	return queuetest.Deliver(r.h, t).Code
}

// release makes every held task ready, as if its schedule time had come.
func (r *runner) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ready = append(r.ready, r.Take()...)
}

type env struct {
	sim    *workspacesim.Sim
	url    string // the simulator's
	store  *bolt.Store
	worker *directory.Worker
	q      *runner
}

func newEnv(t *testing.T, simCfg workspacesim.Config, resync syncplan.Resync, opts ...func(*directory.Config)) *env {
	t.Helper()
	ctx := context.Background()
	srv, err := workspacesim.Start(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	qc, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	guard := quota.New(store, qc, quota.WithClock(srv.Sim.Now))
	clients, err := workspace.New(ctx, workspace.Config{
		Endpoint: srv.URL, AdminSubject: srv.Sim.Admin(),
		Wrap: callbudget.Wrap(guard, callbudget.OnViolation(func(err error) { t.Error(err) })),
	})
	if err != nil {
		t.Fatal(err)
	}
	q := &runner{Queue: &queuetest.Queue{}, t: t, answers: map[int]int{}}
	cfg := directory.Config{
		Store: store, Directory: clients.Directory, Queue: q,
		SweepQueue: tasks.QueueDirectorySweep, PushQueue: tasks.QueueDirectory,
		Resync: resync, Now: srv.Sim.Now,
		Quota: guard,
	}
	for _, o := range opts {
		o(&cfg)
	}
	w := directory.New(cfg)
	q.h = w.Handler()
	return &env{sim: srv.Sim, url: srv.URL, store: store, worker: w, q: q}
}

func (e *env) assertTruth(t *testing.T) workspacesim.Truth {
	t.Helper()
	truth, err := e.sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := truthdiff.Diff(context.Background(), e.store, truth, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	return truth
}

func truthGroups(tr workspacesim.Truth) []greep.Group {
	var gs []greep.Group
	for _, g := range tr.Groups {
		gs = append(gs, greep.Group{ID: g.ID, DirectMembersCount: g.DirectMembersCount})
	}
	return gs
}

func TestFullSyncEqualsTruthWithPlannedCalls(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 300, Groups: 210, Seed: 1}, syncplan.Resync{})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	truth := e.assertTruth(t)

	want := syncplan.FullSyncCalls(truthGroups(truth), len(truth.Users))
	st := e.sim.Stats()
	for method, n := range want {
		if st.Calls[method] != n {
			t.Errorf("%s: %d calls, the plan predicts %d", method, st.Calls[method], n)
		}
	}
	if st.Rejected.RateLimit != 0 || st.Rejected.DailyLimit != 0 {
		t.Errorf("rejected calls: %+v", st.Rejected)
	}
	var empty, multi int
	for _, g := range truth.Groups {
		if g.DirectMembersCount == 0 {
			empty++
		}
		if g.DirectMembersCount > syncplan.MembersPageSize {
			multi++
		}
	}
	if empty == 0 || multi == 0 {
		t.Fatalf("the tenant should have empty (%d) and multi-page (%d) groups for this test to mean anything", empty, multi)
	}

	p, s, err := e.worker.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Running() || !p.Finished() || p.Total != int64(len(truth.Groups)) {
		t.Errorf("sweep after the run: %+v, progress %+v", s, p)
	}
	var sync greep.SyncState
	if _, err := greep.LoadState(ctx, e.store, greep.StateSync, &sync); err != nil {
		t.Fatal(err)
	}
	if sync.State != "idle" || sync.LastFullSyncAt.IsZero() || sync.Groups != int64(len(truth.Groups)) || sync.GroupsDone != sync.GroupsTotal {
		t.Errorf("status document: %+v", sync)
	}
	u, err := e.store.User(ctx, truth.Users[0].PrimaryEmail)
	if err != nil || u.ID != truth.Users[0].ID {
		t.Errorf("users not stored: %+v, %v", u, err)
	}
	// A member run's task carries the group's id, email and etag, not the whole group.
	runs := 0
	for _, task := range e.q.Accepted() {
		if task.Path != directory.PathMembersPage {
			continue
		}
		var mp directory.MembersPage
		if err := json.Unmarshal(task.Body, &mp); err != nil {
			t.Fatal(err)
		}
		g := mp.Group
		if g.ID == "" || g.Email == "" || g.ETag == "" || !reflect.DeepEqual(g, greep.Group{ID: g.ID, Email: g.Email, ETag: g.ETag}) {
			t.Errorf("a member run's task carries %+v", g)
		}
		runs++
	}
	if runs == 0 {
		t.Error("no member run's task was queued")
	}
}

func TestSyncRemovesWhatNoLongerExists(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 50, Groups: 60, Seed: 3}, syncplan.Resync{Every: time.Hour})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	truth, _ := e.sim.Truth("")
	gone := truth.Groups[5]
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "deleteGroup", Group: gone.Email}}); err != nil {
		t.Fatal(err)
	}
	// A resync notices the deletion through the listing alone.
	started, err := e.worker.StartResync(ctx)
	if err != nil || !started {
		t.Fatalf("resync: %v %v", started, err)
	}
	e.q.run()
	if _, err := e.store.Group(ctx, gone.ID); !errorsIsNotFound(err) {
		t.Errorf("deleted group still cached: %v", err)
	}
	e.assertTruth(t)
}

func errorsIsNotFound(err error) bool { return greep.ErrorCode(err) == greep.ENOTFOUND }

func TestResyncRefreshesOnlyChangedGroupsAndTheSlice(t *testing.T) {
	ctx := context.Background()
	resync := syncplan.Resync{Every: time.Hour, MaxAge: 24 * time.Hour}
	e := newEnv(t, workspacesim.Config{Users: 300, Groups: 210, Seed: 11}, resync)
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	e.sim.Advance(resync.Every)

	// Unchanged tenant: the groups.list pages plus the rolling slice's member pages.
	before := e.sim.Stats().Calls
	cached := cachedByID(t, e.store)
	truth, _ := e.sim.Truth("")
	plan := planResync(resync, truth, cached, e.sim.Now())
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	after := e.sim.Stats().Calls
	if d := after["directory.groups.list"] - before["directory.groups.list"]; d != 2 {
		t.Errorf("resync listed %d pages, want 2", d)
	}
	if d := after["directory.members.list"] - before["directory.members.list"]; d != plan.memberCalls {
		t.Errorf("resync of an unchanged tenant made %d members.list calls, the slice plans %d", d, plan.memberCalls)
	}
	if plan.changed != 0 || plan.slice == 0 {
		t.Errorf("plan of an unchanged tenant: %+v", plan)
	}

	// One mutation, no push: the next resync finds and refreshes that group.
	var target workspacesim.TruthGroup
	for _, g := range truth.Groups {
		if g.DirectMembersCount > 0 && g.DirectMembersCount < 50 {
			target = g
			break
		}
	}
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: target.Email, Member: "late@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(resync.Every)
	cached = cachedByID(t, e.store)
	truth, _ = e.sim.Truth("")
	plan = planResync(resync, truth, cached, e.sim.Now())
	if plan.reasons[target.ID] != syncplan.ReasonChanged || plan.changed != 1 {
		t.Fatalf("plan: target %q, %d changed", plan.reasons[target.ID], plan.changed)
	}
	before = e.sim.Stats().Calls
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	after = e.sim.Stats().Calls
	if d := after["directory.members.list"] - before["directory.members.list"]; d != plan.memberCalls {
		t.Errorf("resync made %d members.list calls, planned %d", d, plan.memberCalls)
	}
	e.assertTruth(t)
}

type resyncPlan struct {
	reasons        map[string]string
	changed, slice int
	memberCalls    int64
}

func planResync(r syncplan.Resync, truth workspacesim.Truth, cached map[string]greep.Group, now time.Time) resyncPlan {
	// groups.list pages come in email order, 200 a page: plan page by page, as the worker does.
	gs := append([]workspacesim.TruthGroup(nil), truth.Groups...)
	sort.Slice(gs, func(i, j int) bool { return gs[i].Email < gs[j].Email })
	p := resyncPlan{reasons: map[string]string{}}
	for i := 0; i < len(gs); i += syncplan.GroupsPageSize {
		var page []greep.Group
		for _, g := range gs[i:min(i+syncplan.GroupsPageSize, len(gs))] {
			page = append(page, greep.Group{ID: g.ID, ETag: g.ETag, DirectMembersCount: g.DirectMembersCount})
		}
		for _, s := range r.Select(page, cached, now) {
			p.reasons[s.Group.ID] = s.Reason
			p.memberCalls += syncplan.MemberCalls(s.Group.DirectMembersCount)
			switch s.Reason {
			case syncplan.ReasonSlice, syncplan.ReasonDue:
				p.slice++
			default:
				p.changed++
			}
		}
	}
	return p
}

func cachedByID(t *testing.T, s greep.GroupStore) map[string]greep.Group {
	t.Helper()
	out := map[string]greep.Group{}
	tok := ""
	for {
		gs, next, err := s.Groups(context.Background(), greep.Page{Token: tok, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			out[g.ID] = g
		}
		if next == "" {
			return out
		}
		tok = next
	}
}

func TestTasksDeliveredTwiceCountOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 300, Groups: 210, Seed: 1}, syncplan.Resync{})
	e.q.twice = true
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	truth := e.assertTruth(t)
	multi := 0
	for _, g := range truth.Groups {
		if g.DirectMembersCount > syncplan.MembersPageSize {
			multi++
		}
	}
	if multi == 0 || e.q.answers[500] != 0 {
		t.Errorf("answers %v, %d multi-page groups: want no failure, and multi-page groups to deliver twice", e.q.answers, multi)
	}
	p, s, err := e.worker.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Running() || p.Done != int64(len(truth.Groups)) || p.Total != int64(len(truth.Groups)) {
		t.Errorf("after double delivery: %+v %+v, want %d groups done of %d", s, p, len(truth.Groups), len(truth.Groups))
	}
}

// TestTickStartsWithAFullSyncThenResyncs: App Engine's cron tick on an empty cache runs the
// full sync (one call per member page, not a refresh per group), does nothing while a sweep
// runs, and resyncs afterwards.
func TestTickStartsWithAFullSyncThenResyncs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 3}, syncplan.Resync{})
	for i, want := range []string{"full sync started", "a sweep is running; no resync started"} {
		msg, err := e.worker.Tick(ctx)
		if err != nil || msg != want {
			t.Fatalf("tick %d: %q, %v; want %q", i+1, msg, err, want)
		}
	}
	e.q.run()
	truth := e.assertTruth(t)
	want := syncplan.FullSyncCalls(truthGroups(truth), len(truth.Users))
	if got := e.sim.Stats().Calls["directory.groups.get"]; got != want["directory.groups.get"] {
		t.Errorf("the first tick made %d groups.get calls, a full sync makes %d", got, want["directory.groups.get"])
	}
	s, err := e.worker.Sweep(ctx)
	if err != nil || s.Mode != syncplan.ModeFull {
		t.Fatalf("first sweep %+v, %v: want a full sync", s, err)
	}
	if msg, err := e.worker.Tick(ctx); err != nil || msg != "resync started" {
		t.Fatalf("tick after the sync: %q, %v; want a resync", msg, err)
	}
	e.q.run()
	if s, _ := e.worker.Sweep(ctx); s.Mode != syncplan.ModeResync || s.Running() {
		t.Errorf("second sweep %+v: want a finished resync", s)
	}
}

// lossyStore drops one count of a group done, as an instance stopped between writing the
// group's marker and counting it does: the task's retry finds the marker and counts
// nothing.
type lossyStore struct {
	directory.Store
	dropped atomic.Bool
}

func (s *lossyStore) AddCount(ctx context.Context, name string, delta int64) (int64, error) {
	if strings.HasSuffix(name, "/done") && s.dropped.CompareAndSwap(false, true) {
		return s.Store.Count(ctx, name)
	}
	return s.Store.AddCount(ctx, name, delta)
}

// TestTickFinishesASweepStoppedBetweenMarkerAndCount: production's path (the resync cron,
// no restart hook) finishes a sweep whose count an instance lost: the tick that sees the
// sweep unmoved since the previous tick recounts it from the markers.
func TestTickFinishesASweepStoppedBetweenMarkerAndCount(t *testing.T) {
	ctx := context.Background()
	var lossy *lossyStore
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 3}, syncplan.Resync{}, func(c *directory.Config) {
		lossy = &lossyStore{Store: c.Store}
		c.Store = lossy
	})
	if msg, err := e.worker.Tick(ctx); err != nil || msg != "full sync started" {
		t.Fatalf("first tick: %q, %v", msg, err)
	}
	e.q.run()
	if !lossy.dropped.Load() {
		t.Fatal("no count was dropped")
	}
	for i := range 2 {
		if s, err := e.worker.Sweep(ctx); err != nil || !s.Running() {
			t.Fatalf("tick %d: sweep %+v, %v: want it stuck open by the lost count", i+2, s, err)
		}
		if msg, err := e.worker.Tick(ctx); err != nil || msg != "a sweep is running; no resync started" {
			t.Fatalf("tick %d: %q, %v", i+2, msg, err)
		}
		e.q.run()
	}
	if s, err := e.worker.Sweep(ctx); err != nil || s.Running() {
		t.Fatalf("after an unmoved tick: sweep %+v, %v: want it finished", s, err)
	}
	e.assertTruth(t)
}

// countReads records which counters are read, and which of them while the running
// sweep's listing is still under way.
type countReads struct {
	directory.Store
	mu            sync.Mutex
	reads         int
	duringListing []string
}

func (s *countReads) Count(ctx context.Context, name string) (int64, error) {
	sw, err := directory.LoadSweep(ctx, s.Store)
	s.mu.Lock()
	s.reads++
	if err != nil || (sw.Running() && !sw.ListingDone) {
		s.duringListing = append(s.duringListing, name)
	}
	s.mu.Unlock()
	return s.Store.Count(ctx, name)
}

// TestFinishingAGroupReadsNoCountWhileTheListingRuns: checking whether a sweep is done
// after each group (a count is 16 entity reads on Datastore) reads no counter before the
// listing is complete, and at most two (total and done) a group after it.
func TestFinishingAGroupReadsNoCountWhileTheListingRuns(t *testing.T) {
	ctx := context.Background()
	var counted *countReads
	e := newEnv(t, workspacesim.Config{Users: 60, Groups: 2*syncplan.GroupsPageSize + 50, Seed: 4}, syncplan.Resync{}, func(c *directory.Config) {
		counted = &countReads{Store: c.Store}
		c.Store = counted
		c.PublishEvery = time.Hour // the status document's own reads: only at the sweep's start and end
	})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	counted.mu.Lock()
	counted.reads, counted.duringListing = 0, nil
	counted.mu.Unlock()
	e.q.run()
	truth := e.assertTruth(t)

	p, s, err := e.worker.Progress(ctx)
	if err != nil || s.Running() || !p.Finished() {
		t.Fatalf("sweep after the run: %+v, progress %+v, %v", s, p, err)
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if len(counted.duringListing) > 0 {
		t.Errorf("%d counters read while the listing ran (first %s): want none", len(counted.duringListing), counted.duringListing[0])
	}
	// After the listing: total and done for each group finished then, and the finish
	// task's and the status document's Progress (three each), besides the Progress above.
	if limit := 2*len(truth.Groups) + 9; counted.reads > limit {
		t.Errorf("%d counters read for %d groups: want at most %d", counted.reads, len(truth.Groups), limit)
	}
}
