package directory_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/workspacesim"
)

// stalledTicks runs the two cron ticks that find a sweep unmoved, and the tasks they
// queue: the first records what it sees, the second finds it unchanged and recovers.
func stalledTicks(t *testing.T, e *env) {
	t.Helper()
	for i := range 2 {
		if msg, err := e.worker.Tick(context.Background()); err != nil || msg != "a sweep is running; no resync started" {
			t.Fatalf("stalled tick %d: %q, %v", i+1, msg, err)
		}
		e.q.run()
	}
}

// assertFinishedWithPlannedCalls checks that the sweep finished to the truth, counted
// every group once, and called Google exactly as a sweep that lost nothing: the recovery
// re-reads what was lost, nothing more.
func assertFinishedWithPlannedCalls(t *testing.T, e *env) {
	t.Helper()
	p, s, err := e.worker.Progress(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	truth := e.assertTruth(t)
	if s.Running() || p.Done != int64(len(truth.Groups)) || p.Total != int64(len(truth.Groups)) {
		t.Errorf("sweep %+v, progress %+v: want it finished with %d groups done of %d", s, p, len(truth.Groups), len(truth.Groups))
	}
	// Calls Google refused (a spent quota) are made again: only the answered ones count.
	st := e.sim.Stats()
	answered := -(st.Rejected.DailyLimit + st.Rejected.RateLimit + st.Rejected.Injected)
	var planned int64
	for method, n := range syncplan.FullSyncCalls(truthGroups(truth), len(truth.Users)) {
		if st.Calls[method] < n {
			t.Errorf("%s: %d calls, a sweep makes %d", method, st.Calls[method], n)
		}
		answered += st.Calls[method]
		planned += n
	}
	if answered != planned {
		t.Errorf("%d calls answered, a sweep that lost nothing makes %d (calls %v, rejected %+v)", answered, planned, st.Calls, st.Rejected)
	}
}

// TestTickReissuesTheTasksASweepLost: tasks of a full sync are lost (an instance stopped
// after a page's marker and before its enqueues, tasks dropped by the queue): some
// groups' member reads and the second groups.list page, so the third is never queued
// either. Recounting alone leaves such a sweep open for good; the tick that finds it
// unmoved re-issues the lost page and the member reads of the groups without a done
// marker, and the sweep finishes equal to the truth.
func TestTickReissuesTheTasksASweepLost(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 300, Groups: 450, Seed: 1}, syncplan.Resync{})
	var mu sync.Mutex
	members, pages := 0, 0
	lostGroups := map[string]bool{}
	e.q.Intercept(func(ctx context.Context, task queue.Task, enqueue queue.Enqueuer) error {
		mu.Lock()
		defer mu.Unlock()
		switch task.Path {
		case directory.PathMembersPage:
			var mp directory.MembersPage
			if err := json.Unmarshal(task.Body, &mp); err != nil {
				return err
			}
			// Only first pages: a run lost half-way costs its pages again, and this test
			// counts calls.
			if mp.Page == 0 {
				if members++; members%4 == 0 {
					lostGroups[mp.Group.ID] = true
					return nil
				}
			}
		case directory.PathGroupsPage:
			if pages++; pages == 2 {
				return nil
			}
		}
		return enqueue.Enqueue(ctx, task)
	})
	if msg, err := e.worker.Tick(ctx); err != nil || msg != "full sync started" {
		t.Fatalf("first tick: %q, %v", msg, err)
	}
	e.q.run()
	e.q.Intercept(nil)
	p, s, err := e.worker.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Running() || s.ListingDone || len(lostGroups) == 0 || p.Done+int64(len(lostGroups)) > p.Total {
		t.Fatalf("after the losses: sweep %+v, progress %+v, %d member reads lost: want a stalled sweep", s, p, len(lostGroups))
	}

	stalledTicks(t, e)
	assertFinishedWithPlannedCalls(t, e)
}

// haltingStore fails the write that closes the listing while halt is set, as an instance
// stopped between the last page's marker and that write does.
type haltingStore struct {
	directory.Store
	halt atomic.Bool
}

func (s *haltingStore) UpdateState(ctx context.Context, name string, fn func([]byte) ([]byte, error)) error {
	if name == "directory-sweep" && s.halt.Load() {
		return errors.New("instance stopped")
	}
	return s.Store.UpdateState(ctx, name, fn)
}

// TestTickClosesAListingWhoseLastPageStopped: the last groups.list page's task stops after
// its marker and member reads were queued and before it closed the listing, and is lost.
// The marker says it was the last page: the tick closes the listing and the sweep finishes,
// with no page read twice.
func TestTickClosesAListingWhoseLastPageStopped(t *testing.T) {
	ctx := context.Background()
	var halting *haltingStore
	e := newEnv(t, workspacesim.Config{Users: 300, Groups: 250, Seed: 2}, syncplan.Resync{}, func(c *directory.Config) {
		halting = &haltingStore{Store: c.Store}
		c.Store = halting
	})
	var mu sync.Mutex
	var last []queue.Task
	e.q.Intercept(func(ctx context.Context, task queue.Task, enqueue queue.Enqueuer) error {
		var gp directory.GroupsPage
		if task.Path == directory.PathGroupsPage && json.Unmarshal(task.Body, &gp) == nil && gp.PageToken != "" {
			mu.Lock()
			last = append(last, task)
			mu.Unlock()
			return nil
		}
		return enqueue.Enqueue(ctx, task)
	})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	e.q.Intercept(nil)
	if len(last) != 1 {
		t.Fatalf("%d later pages held: the tenant should list in two pages", len(last))
	}
	halting.halt.Store(true)
	if code := e.q.deliver(last[0]); code/100 == 2 {
		t.Fatalf("the halted last page answered %d", code)
	}
	halting.halt.Store(false)
	e.q.run() // its member reads; the page's task itself is lost
	if _, s, err := e.worker.Progress(ctx); err != nil || !s.Running() || s.ListingDone {
		t.Fatalf("after the lost last page: sweep %+v, %v: want it open, the listing not closed", s, err)
	}

	stalledTicks(t, e)
	assertFinishedWithPlannedCalls(t, e)
}

// TestTickLeavesASweepWaitingForTheResetAlone: a sweep whose tasks wait for the quota
// reset does not move for hours, yet nothing of it is lost. The ticks meanwhile queue
// nothing (re-issued copies would run with the waiting tasks after the reset, every read
// twice), and after the resets the sweep finishes with the calls of one sweep.
func TestTickLeavesASweepWaitingForTheResetAlone(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 3, QuotaPerDay: map[string]int64{workspacesim.APIDirectory: 10}}, syncplan.Resync{})
	if _, err := e.worker.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	waiting := len(e.q.Pending())
	if waiting == 0 {
		t.Fatal("nothing waits for the reset: the quota should run out mid-sweep")
	}
	accepted := len(e.q.Accepted())
	stalledTicks(t, e)
	if n := len(e.q.Accepted()); n != accepted {
		t.Errorf("the ticks queued %d tasks while %d waited for the reset", n-accepted, waiting)
	}
	for day := 0; day < 30; day++ {
		if _, s, _ := e.worker.Progress(ctx); !s.Running() {
			break
		}
		e.sim.Advance(24 * time.Hour)
		e.q.release()
		e.q.run()
	}
	assertFinishedWithPlannedCalls(t, e)
}
