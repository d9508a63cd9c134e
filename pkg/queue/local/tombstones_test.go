package local_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
)

// nameStore counts the deletions of task names, and can hold the next one until let go.
type nameStore struct {
	greep.RecordStore
	single, batches atomic.Int64

	mu     sync.Mutex
	hold   chan struct{} // non-nil: the next name deletion waits for it to close
	inside chan struct{} // closed when that deletion is waiting
}

func (s *nameStore) wait(kind string) {
	if kind != "queue-tomb" {
		return
	}
	s.mu.Lock()
	hold, inside := s.hold, s.inside
	s.hold = nil
	s.mu.Unlock()
	if hold != nil {
		close(inside)
		<-hold
	}
}

func (s *nameStore) DeleteRecord(ctx context.Context, kind, id string) error {
	s.wait(kind)
	if kind == "queue-tomb" {
		s.single.Add(1)
	}
	return s.RecordStore.DeleteRecord(ctx, kind, id)
}

func (s *nameStore) DeleteRecords(ctx context.Context, kind string, ids []string) error {
	s.wait(kind)
	if kind == "queue-tomb" {
		s.batches.Add(1)
	}
	return s.RecordStore.DeleteRecords(ctx, kind, ids)
}

// has reports whether a tombstone of the name id is stored.
func (s *nameStore) has(t *testing.T, id string) bool {
	t.Helper()
	found := false
	err := s.Records(context.Background(), "queue-tomb", func(got string, _ []byte) error {
		_, name, _ := strings.Cut(got, "/")
		found = found || name == id
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func (s *nameStore) count(t *testing.T) int {
	t.Helper()
	n := 0
	if err := s.Records(context.Background(), "queue-tomb", func(string, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// An idle dispatcher sleeps until its earliest tombstone ends: the janitor's only timer
// is set to that moment, not to a period (before, it woke every tombstone length, and on a
// scaled clock every 50 ms, to scan every name under the dispatcher's lock).
func TestJanitorSleepsUntilTheNextTombstoneEnds(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	store := &nameStore{RecordStore: memory.New()}
	d := open(t, store, clk, rec)

	// The task runs at a time no period of the janitor's started at t0 would reach.
	clk.Advance(30 * time.Minute)
	enqueue(t, d, queue.Task{Queue: "work", Name: "a", Path: "/tasks/remediation/x", ScheduleTime: t0.Add(47 * time.Minute)})
	drive(t, d, clk, t0.Add(time.Hour), "the task", func() bool { return len(rec.snapshot()) == 1 })
	idle(t, d)
	end := t0.Add(47*time.Minute + time.Hour)
	waitFor(t, "the janitor's timer at the tombstone's end", func() bool {
		next, ok := clk.Next()
		return ok && next.Equal(end)
	})
	if n := store.batches.Load() + store.single.Load(); n != 0 {
		t.Fatalf("%d name deletions before any tombstone ended", n)
	}

	clk.Advance(time.Hour)
	waitFor(t, "the ended tombstone pruned", func() bool { return !store.has(t, "work/n-a") })
	if b, s := store.batches.Load(), store.single.Load(); b != 1 || s != 0 {
		t.Errorf("pruning one name took %d batch and %d single deletions, want 1 batch", b, s)
	}
	waitFor(t, "the janitor without a timer", func() bool { _, ok := clk.Next(); return !ok })
	enqueue(t, d, queue.Task{Queue: "work", Name: "a", Path: "/tasks/remediation/x"})
	waitFor(t, "the name free again", func() bool { return len(rec.snapshot()) == 2 })
}

// Tombstones that end together are deleted together, one store call for all (up to
// 20,000).
func TestTombstonesArePrunedInBatches(t *testing.T) {
	clk := local.NewFakeClock(t0)
	var ran atomic.Int64
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran.Add(1) })
	store := &nameStore{RecordStore: memory.New()}
	d := open(t, store, clk, h)
	// In steps smaller than the lane's burst: WaitIdle counts a lane waiting for its
	// token with more tasks due as busy.
	const n, step = 1100, 25
	for i := 0; i < n; i += step {
		for j := i; j < i+step; j++ {
			enqueue(t, d, queue.Task{Queue: "work", Name: fmt.Sprintf("t%d", j), Path: "/tasks/remediation/x"})
		}
		drive(t, d, clk, t0.Add(time.Minute), "the tasks", func() bool { return ran.Load() == int64(i+step) })
		clk.Advance(time.Second) // the bucket fills again
	}
	if got := store.count(t); got != n {
		t.Fatalf("%d name records after the tasks ran, want %d tombstones", got, n)
	}
	clk.Advance(2 * time.Hour)
	waitFor(t, "every tombstone pruned", func() bool { return store.count(t) == 0 })
	if b, s := store.batches.Load(), store.single.Load(); b != 1 || s != 0 {
		t.Errorf("pruning %d names took %d batch and %d single deletions, want 1 batch", n, b, s)
	}
}

// The store call that prunes names runs outside the dispatcher's lock: tasks are enqueued
// while it is under way, and a name taken again meanwhile stays taken, by its task's
// record, here and after a restart.
func TestPruningDoesNotHoldUpEnqueue(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	store := &nameStore{RecordStore: memory.New()}
	d := open(t, store, clk, rec)
	enqueue(t, d, queue.Task{Queue: "work", Name: "a", Path: "/tasks/remediation/x"})
	waitFor(t, "the task", func() bool { return len(rec.snapshot()) == 1 })
	idle(t, d)

	hold, inside := make(chan struct{}), make(chan struct{})
	store.mu.Lock()
	store.hold, store.inside = hold, inside
	store.mu.Unlock()
	clk.Advance(time.Hour)
	<-inside

	enqueued := make(chan error, 2)
	go func() {
		enqueued <- d.Enqueue(context.Background(), queue.Task{Queue: "work", Name: "b", Path: "/tasks/remediation/x", ScheduleTime: t0.Add(5 * time.Hour)})
		enqueued <- d.Enqueue(context.Background(), queue.Task{Queue: "work", Name: "a", Path: "/tasks/remediation/x", ScheduleTime: t0.Add(5 * time.Hour)})
	}()
	for range 2 {
		select {
		case err := <-enqueued:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitLimit):
			close(hold)
			t.Fatal("Enqueue waited for the janitor's store call")
		}
	}
	close(hold)
	waitFor(t, "the pruning done", func() bool { return store.batches.Load() == 1 })
	enqueue(t, d, queue.Task{Queue: "work", Name: "a", Path: "/tasks/remediation/x"})
	if s := d.Stats()["work"]; s.Backlog != 2 {
		t.Errorf("backlog %d, want 2 (b, and a queued once)", s.Backlog)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.has(t, "work/n-a") {
		t.Error("the pruned tombstone of a is still stored")
	}
	d2 := open(t, store, clk, nil)
	enqueue(t, d2, queue.Task{Queue: "work", Name: "a", Path: "/tasks/remediation/x"})
	if s := d2.Stats()["work"]; s.Backlog != 2 {
		t.Errorf("after a restart, backlog %d, want 2 (b, and a queued once)", s.Backlog)
	}
}

// A tombstone's record is keyed by its end, then the name: the newest sorts last, so a
// task's completion writes at the end of the kind's keys.
func TestTombstonesAreKeyedByTheirEnd(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	store := &nameStore{RecordStore: memory.New()}
	d := open(t, store, clk, rec)
	for i, name := range []string{"z", "a"} {
		clk.Advance(time.Minute)
		enqueue(t, d, queue.Task{Queue: "work", Name: name, Path: "/tasks/remediation/x"})
		waitFor(t, "task "+name, func() bool { return len(rec.snapshot()) == i+1 })
		idle(t, d)
	}
	var ids []string
	if err := store.Records(context.Background(), "queue-tomb", func(id string, _ []byte) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"20260504T100100.000000000Z/work/n-z", "20260504T100200.000000000Z/work/n-a"}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("tombstone records %q, want %q", ids, want)
	}
}

// Stores written before tombstones were keyed by their end hold them as queue-name
// records, keyed by the name, some marked queued: a live one still takes its name until
// it ends and is then pruned; an ended one, and a queued one whose task is gone, are
// deleted when the dispatcher opens and free their names.
func TestNameRecordsOfEarlierStoresAreRead(t *testing.T) {
	ctx := context.Background()
	clk := local.NewFakeClock(t0)
	store := &nameStore{RecordStore: memory.New()}
	for id, data := range map[string]string{
		"work/n-live":  `{"expires":"2026-05-04T09:30:00Z"}`,
		"work/n-ended": `{"expires":"2026-05-04T08:59:00Z"}`,
		"work/n-lost":  `{}`,
	} {
		if err := store.PutRecord(ctx, "queue-name", id, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	d := open(t, store, clk, &recorder{clock: clk})
	left := map[string]bool{}
	if err := store.Records(ctx, "queue-name", func(id string, _ []byte) error { left[id] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || !left["work/n-live"] {
		t.Errorf("name records after opening: %v, want only work/n-live", left)
	}
	for _, name := range []string{"live", "ended", "lost"} {
		enqueue(t, d, queue.Task{Queue: "work", Name: name, Path: "/tasks/remediation/x", ScheduleTime: t0.Add(5 * time.Hour)})
	}
	if s := d.Stats()["work"]; s.Backlog != 2 {
		t.Errorf("backlog %d, want 2: ended and lost free, live taken", s.Backlog)
	}
	clk.Advance(31 * time.Minute)
	waitFor(t, "the live record pruned at its end", func() bool { return countRecords(t, store, "queue-name") == 0 })
	enqueue(t, d, queue.Task{Queue: "work", Name: "live", Path: "/tasks/remediation/x", ScheduleTime: t0.Add(5 * time.Hour)})
	if s := d.Stats()["work"]; s.Backlog != 3 {
		t.Errorf("backlog %d after the live tombstone ended, want 3", s.Backlog)
	}
}
