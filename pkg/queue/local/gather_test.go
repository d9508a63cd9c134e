package local_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
)

// gatherYAML is lanesYAML at 100 calls a second, so that a test's tasks all dispatch at
// once on a clock that does not move.
var gatherYAML = strings.Replace(lanesYAML, "limit: 600,", "limit: 6000,", 1)

// gateHandler holds each run in its handler until the test answers it: a run adds one
// to the counter "runs" in its unit of work, says it entered, and answers the status the
// test sends on its task's gate.
type gateHandler struct {
	entered chan string
	mu      sync.Mutex
	gates   map[string]chan int
}

func newGateHandler() *gateHandler {
	return &gateHandler{entered: make(chan string, 16), gates: map[string]chan int{}}
}

func (h *gateHandler) gate(name string) chan int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gates[name] == nil {
		h.gates[name] = make(chan int, 1)
	}
	return h.gates[name]
}

func (h *gateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info, _ := queue.InfoFrom(r.Context())
	queue.BatchFrom(r.Context()).Add(func(w *greep.Writes) {
		w.Counts = append(w.Counts, greep.Count{Name: "runs", Delta: 1})
	})
	h.entered <- info.Name
	w.WriteHeader(<-h.gate(info.Name))
}

// startGated opens a dispatcher of gatherYAML on store, queues the named tasks on lane,
// starts it and returns once every task is in its handler.
func startGated(t *testing.T, store greep.RecordStore, clk local.Clock, lane string, names ...string) (*local.Dispatcher, *gateHandler) {
	t.Helper()
	cfg, err := queueconfig.Parse("queues.yaml", []byte(gatherYAML))
	if err != nil {
		t.Fatal(err)
	}
	d, err := local.Open(context.Background(), store, cfg, local.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	for _, n := range names {
		enqueue(t, d, queue.Task{Queue: lane, Name: n, Path: "/tasks/directory/members"})
	}
	h := newGateHandler()
	if err := d.Start(h); err != nil {
		t.Fatal(err)
	}
	for range names {
		<-h.entered
	}
	return d, h
}

func runsCounted(t *testing.T, s greep.StateStore) int64 {
	t.Helper()
	n, err := s.Count(context.Background(), "runs")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The runs of a background lane that are in their handlers together commit together:
// those that finish first wait for the last, and the embedded store writes the four
// units in one transaction.
func TestGatheredRunsCommitInOneTransaction(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d, h := startGated(t, store, local.NewFakeClock(t0), "directory-sweep", "a", "b", "c", "d")
	before := store.WriteStats().Transactions
	for _, n := range []string{"a", "b", "c"} {
		h.gate(n) <- http.StatusNoContent
	}
	wait.For(t, waitLimit, "three finished runs gathered", func() bool { return local.Gathered(d, "directory-sweep") == 3 })
	if n := runsCounted(t, store); n != 0 {
		t.Fatalf("%d runs committed while a fourth was still in its handler, want 0", n)
	}
	h.gate("d") <- http.StatusNoContent
	idle(t, d)
	if n := runsCounted(t, store); n != 4 {
		t.Errorf("%d runs committed, want 4", n)
	}
	if tx := store.WriteStats().Transactions - before; tx != 1 {
		t.Errorf("four gathered runs took %d write transactions, want 1", tx)
	}
	if n := countRecords(t, store, "queue-task"); n != 0 {
		t.Errorf("%d task records left, want 0", n)
	}
}

// A run stuck in its handler holds the others back for gatherLinger at most: once the
// clock passes it, they commit without it.
func TestGatherWaitsForAStuckRunOnlySoLong(t *testing.T) {
	store := memory.New()
	clk := local.NewFakeClock(t0)
	d, h := startGated(t, store, clk, "directory-sweep", "a", "b", "stuck")
	h.gate("a") <- http.StatusNoContent
	h.gate("b") <- http.StatusNoContent
	wait.For(t, waitLimit, "two finished runs gathered", func() bool { return local.Gathered(d, "directory-sweep") == 2 })
	clk.Advance(local.GatherLinger)
	wait.For(t, waitLimit, "the two runs committed", func() bool { return runsCounted(t, store) == 2 })
	h.gate("stuck") <- http.StatusNoContent
	idle(t, d)
	if n := runsCounted(t, store); n != 3 {
		t.Errorf("%d runs committed, want 3", n)
	}
}

// A run that fails leaves the gather: the runs that waited for it commit at once, and
// its own unit is dropped.
func TestAFailedRunReleasesTheGather(t *testing.T) {
	store := memory.New()
	d, h := startGated(t, store, local.NewFakeClock(t0), "directory-sweep", "a", "b", "failing")
	h.gate("a") <- http.StatusNoContent
	h.gate("b") <- http.StatusNoContent
	wait.For(t, waitLimit, "two finished runs gathered", func() bool { return local.Gathered(d, "directory-sweep") == 2 })
	h.gate("failing") <- http.StatusInternalServerError
	wait.For(t, waitLimit, "the two runs committed", func() bool { return runsCounted(t, store) == 2 })
	idle(t, d)
	if n := runsCounted(t, store); n != 2 {
		t.Errorf("%d runs committed, want 2: the failed run's unit must not land", n)
	}
}

// Push lanes do not gather: a push task's writes land while another push task is still
// in its handler.
func TestPushRunsCommitAlone(t *testing.T) {
	store := memory.New()
	d, h := startGated(t, store, local.NewFakeClock(t0), "directory", "quick", "slow")
	h.gate("quick") <- http.StatusNoContent
	wait.For(t, waitLimit, "the quick run committed", func() bool { return runsCounted(t, store) == 1 })
	h.gate("slow") <- http.StatusNoContent
	idle(t, d)
	if n := runsCounted(t, store); n != 2 {
		t.Errorf("%d runs committed, want 2", n)
	}
}
