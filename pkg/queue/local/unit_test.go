package local_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
)

// unitHandler counts a call, enqueues a child task and, on /tasks/remediation/parent,
// leaves both to the run's unit of work; it answers what status says.
type unitHandler struct {
	d      *local.Dispatcher
	status atomic.Int32
	runs   atomic.Int32
	after  atomic.Int32
}

func (h *unitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.URL.Path != "/tasks/remediation/parent" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.runs.Add(1)
	b := queue.BatchFrom(ctx)
	if !b.Add(func(w *greep.Writes) {
		w.Counts = append(w.Counts, greep.Count{Name: "calls", Delta: 1})
		w.Marks = append(w.Marks, greep.Mark{Kind: "done", ID: "g1", Counter: "done", Delta: 1})
	}) {
		http.Error(w, "no unit of work", http.StatusInternalServerError)
		return
	}
	b.AfterCommit(func(context.Context) { h.after.Add(1) })
	if err := h.d.Enqueue(ctx, queue.Task{Queue: "work", Name: "child", Path: "/tasks/remediation/child"}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(int(h.status.Load()))
}

// A successful run commits its writes, its child task and its own completion in one
// store transaction, and only then runs its after-commit hooks and the child.
func TestRunCommitsOneUnitOfWork(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	clk := local.NewFakeClock(t0)
	h := &unitHandler{}
	h.status.Store(http.StatusNoContent)
	d := open(t, store, clk, nil)
	h.d = d
	enqueue(t, d, queue.Task{Queue: "work", Name: "parent", Path: "/tasks/remediation/parent"})

	var commits, writes atomic.Int32
	store.Intercept(func(op string) error {
		switch op {
		case "Commit":
			commits.Add(1)
		case "PutRecord", "CreateRecord", "DeleteRecord", "AddCount":
			writes.Add(1)
		}
		return nil
	})
	if err := d.Start(h); err != nil {
		t.Fatal(err)
	}
	idle(t, d)
	if h.runs.Load() != 1 || h.after.Load() != 1 {
		t.Fatalf("parent ran %d times with %d after-commit hooks, want 1 and 1", h.runs.Load(), h.after.Load())
	}
	// Parent and child: one commit each, and no write besides.
	if c, w := commits.Load(), writes.Load(); c != 2 || w != 0 {
		t.Errorf("two runs made %d commits and %d other writes, want 2 and 0", c, w)
	}
	for name, want := range map[string]int64{"calls": 1, "done": 1} {
		if n, err := store.Count(ctx, name); err != nil || n != want {
			t.Errorf("counter %s = %d (%v), want %d", name, n, err, want)
		}
	}
	if n := countRecords(t, store, "queue-task"); n != 0 {
		t.Errorf("%d task records left after both ran, want 0", n)
	}
	if n := countRecords(t, store, "queue-tomb"); n != 2 {
		t.Errorf("%d name tombstones, want 2 (parent and child)", n)
	}
}

// A failed run stores nothing of its unit: no writes, no child, and the child's name is
// free for the retry, which then commits once.
func TestFailedRunDropsItsUnit(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	clk := local.NewFakeClock(t0)
	h := &unitHandler{}
	h.status.Store(http.StatusInternalServerError)
	d := open(t, store, clk, nil)
	h.d = d
	enqueue(t, d, queue.Task{Queue: "work", Name: "parent", Path: "/tasks/remediation/parent"})
	if err := d.Start(h); err != nil {
		t.Fatal(err)
	}
	next := idle(t, d)
	if h.runs.Load() != 1 {
		t.Fatalf("parent ran %d times before its retry, want 1", h.runs.Load())
	}
	if n, err := store.Count(ctx, "calls"); err != nil || n != 0 {
		t.Errorf("a failed run counted %d calls (%v), want 0", n, err)
	}
	if n := countRecords(t, store, "queue-task"); n != 1 {
		t.Errorf("%d task records after the failed run, want 1 (the parent)", n)
	}
	if h.after.Load() != 0 {
		t.Error("a failed run ran its after-commit hook")
	}

	h.status.Store(http.StatusNoContent)
	clk.Advance(next.Sub(clk.Now()))
	waitFor(t, "the retry's commit", func() bool {
		n, _ := store.Count(ctx, "calls")
		return n == 1 && countRecords(t, store, "queue-task") == 0
	})
	if n, _ := store.Count(ctx, "done"); n != 1 {
		t.Errorf("done = %d after the retry, want 1", n)
	}
}

// A commit the store refuses is a failed run: the task stays and runs again.
func TestRefusedCommitRetries(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	clk := local.NewFakeClock(t0)
	h := &unitHandler{}
	h.status.Store(http.StatusNoContent)
	d := open(t, store, clk, nil)
	h.d = d
	enqueue(t, d, queue.Task{Queue: "work", Name: "parent", Path: "/tasks/remediation/parent"})
	var refuse atomic.Bool
	refuse.Store(true)
	store.Intercept(func(op string) error {
		if op == "Commit" && refuse.Load() {
			return errors.New("store unavailable")
		}
		return nil
	})
	if err := d.Start(h); err != nil {
		t.Fatal(err)
	}
	next := idle(t, d)
	if n := countRecords(t, store, "queue-task"); n != 1 || h.runs.Load() != 1 {
		t.Fatalf("after a refused commit: %d task records, %d runs; want 1 and 1", n, h.runs.Load())
	}
	refuse.Store(false)
	clk.Advance(next.Sub(clk.Now()))
	waitFor(t, "the retry's commit", func() bool {
		n, _ := store.Count(ctx, "done")
		return n == 1 && countRecords(t, store, "queue-task") == 0
	})
}
