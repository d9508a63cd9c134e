package local_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
)

const testYAML = `apis:
  directory:
    shortWindow: {limit: 600, per: 1m}
    perDay: 100000
    headroom: 0
queues:
  work:
    ratePerSecond: 500
    service: remediation
    pathPrefix: /tasks/remediation/
    concurrency: 2
    retry: {minBackoff: 10s, maxBackoff: 300s, maxDoublings: 3, maxAttempts: 6}
  directory:
    api: directory
    share: 1
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
`

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func config(t testing.TB) *queueconfig.Config {
	t.Helper()
	c, err := queueconfig.Parse("test.yaml", []byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// call is one task run as the handler saw it.
type call struct {
	path string
	body string
	at   time.Time
	info queue.Info
}

// recorder is a task handler that records calls and answers with what answer says.
type recorder struct {
	clock  local.Clock
	mu     sync.Mutex
	calls  []call
	answer func(path string, n int, w http.ResponseWriter) // n: earlier calls on this path
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info, _ := queue.InfoFrom(r.Context())
	body := readAll(r)
	h.mu.Lock()
	n := 0
	for _, c := range h.calls {
		if c.path == r.URL.Path {
			n++
		}
	}
	h.calls = append(h.calls, call{path: r.URL.Path, body: body, at: h.clock.Now(), info: info})
	answer := h.answer
	h.mu.Unlock()
	if answer != nil {
		answer(r.URL.Path, n, w)
	}
}

func (h *recorder) snapshot() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func readAll(r *http.Request) string {
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// waitLimit bounds every wait of these tests: generous, since a loaded machine may be
// slow, and reached only when a test is failing anyway.
const waitLimit = time.Minute

// waitFor polls cond: the dispatcher works in goroutines, so a test waits for the state
// it expects rather than for a time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	wait.For(t, waitLimit, what, cond)
}

// idle waits until d has nothing running or due, and returns when its next task falls
// due (zero if none is queued). What d has not done by then it will not do before the
// clock moves, so a test may assert an absence after it.
func idle(t *testing.T, d *local.Dispatcher) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	next, err := d.WaitIdle(ctx)
	if err != nil {
		t.Fatalf("dispatcher never idle: %v", err)
	}
	return next
}

func open(t *testing.T, store greep.RecordStore, clk local.Clock, h http.Handler) *local.Dispatcher {
	t.Helper()
	d, err := local.Open(context.Background(), store, config(t), local.Options{Clock: clk, Tombstone: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		if err := d.Start(h); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d
}

func enqueue(t *testing.T, d *local.Dispatcher, task queue.Task) {
	t.Helper()
	if err := d.Enqueue(context.Background(), task); err != nil {
		t.Fatal(err)
	}
}

func TestOnlyDispatchedTasksPassOnlyTasks(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	var budget bool
	h := queue.OnlyTasks(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		budget = callbudget.HasBudget(r.Context())
		rec.ServeHTTP(w, r)
	}))
	d := open(t, memory.New(), clk, h)
	enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/evaluate", Body: []byte(`{"group":"a"}`)})
	waitFor(t, "the task to run", func() bool { return len(rec.snapshot()) == 1 })
	if c := rec.snapshot()[0]; c.body != `{"group":"a"}` || c.info.Queue != "work" {
		t.Errorf("handler saw %+v", c)
	}
	if !budget {
		t.Error("task context carries no call budget")
	}

	// The same handler, called from outside the dispatcher, refuses.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/tasks/remediation/evaluate", strings.NewReader(`{}`)))
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"reason":"forbidden"`) {
		t.Errorf("outside request: %d %s", w.Code, w.Body)
	}
	if len(rec.snapshot()) != 1 {
		t.Error("outside request reached the handler")
	}
}

func TestConcurrencyCap(t *testing.T) {
	clk := local.NewFakeClock(t0)
	release := make(chan struct{})
	var now, peak atomic.Int64
	var done atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		now.Add(-1)
		done.Add(1)
	})
	d := open(t, memory.New(), clk, h)
	for i := range 6 {
		enqueue(t, d, queue.Task{Queue: "work", Path: fmt.Sprintf("/tasks/remediation/%d", i)})
	}
	waitFor(t, "two tasks in flight", func() bool { return now.Load() == 2 })
	if s := d.Stats()["work"]; s.Backlog != 6 {
		t.Errorf("backlog %d, want 6 (4 queued + 2 in flight)", s.Backlog)
	}
	// The peak is checked once all ran: a third task let in while two block would be
	// seen whenever it came, with no guess at how long to look.
	close(release)
	waitFor(t, "all tasks", func() bool { return done.Load() == 6 })
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency %d, want 2", p)
	}
}

// drive steps the fake clock from one due task to the next until cond holds, never to
// limit or past it. It moves the clock only while d is idle, to the moment d says its
// next task is due, so it never skips one.
func drive(t *testing.T, d *local.Dispatcher, clk *local.FakeClock, limit time.Time, what string, cond func() bool) {
	t.Helper()
	for {
		next := idle(t, d)
		if cond() {
			return
		}
		if next.IsZero() || !next.Before(limit) {
			t.Fatalf("driving the clock to %s: nothing is due before %s (clock at %s)", what, limit.Format(time.TimeOnly), clk.Now().Format(time.TimeOnly))
		}
		clk.Advance(next.Sub(clk.Now()))
	}
}

func gaps(calls []call) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(calls); i++ {
		out = append(out, calls[i].at.Sub(calls[i-1].at))
	}
	return out
}

func TestRetryBackoffSequence(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk, answer: func(_ string, _ int, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }}
	d := open(t, memory.New(), clk, rec)
	enqueue(t, d, queue.Task{Queue: "work", Name: "flaky", Path: "/tasks/remediation/x"})

	// Cloud Tasks' policy: 10s, doubled 3 times, then +80s, capped at 300s; 6 attempts.
	drive(t, d, clk, t0.Add(50*time.Minute), "six attempts", func() bool { return len(rec.snapshot()) == 6 })
	calls := rec.snapshot()
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second}
	if got := gaps(calls); !slices.Equal(got, want) {
		t.Errorf("retry gaps %v, want %v", got, want)
	}
	for i, c := range calls {
		if c.info.RetryCount != i || c.info.ExecutionCount != i || c.info.Name != "flaky" {
			t.Errorf("attempt %d saw %+v", i, c.info)
		}
	}
	// Out of attempts: dropped, not retried again.
	if next := idle(t, d); !next.IsZero() {
		t.Errorf("a task is still queued, due at %s; want none after maxAttempts", next)
	}
	if n := len(rec.snapshot()); n != 6 {
		t.Errorf("%d attempts, want 6 (maxAttempts)", n)
	}
	if s := d.Stats()["work"]; s.Dispatched != 6 || s.Retries != 5 || s.Backlog != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestOverloadAnswerSlowsRetry(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk, answer: func(path string, n int, w http.ResponseWriter) {
		if n > 0 {
			return // the retry succeeds
		}
		switch path {
		case "/tasks/remediation/plain":
			w.WriteHeader(http.StatusInternalServerError)
		case "/tasks/remediation/429":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/tasks/remediation/503":
			w.Header().Set("Retry-After", "100")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}}
	d := open(t, memory.New(), clk, rec)
	for _, p := range []string{"plain", "429", "503"} {
		enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/" + p})
	}
	drive(t, d, clk, t0.Add(50*time.Minute), "each task to succeed", func() bool { return len(rec.snapshot()) == 6 })
	byPath := map[string][]call{}
	for _, c := range rec.snapshot() {
		byPath[c.path] = append(byPath[c.path], c)
	}
	for path, want := range map[string]time.Duration{
		"/tasks/remediation/plain": 10 * time.Second,  // the policy's first backoff
		"/tasks/remediation/429":   20 * time.Second,  // overloaded: the next step's backoff
		"/tasks/remediation/503":   100 * time.Second, // overloaded, with Retry-After: 100
	} {
		if got := gaps(byPath[path]); len(got) != 1 || got[0] != want {
			t.Errorf("%s: retried after %v, want %s", path, got, want)
		}
	}
}

func TestScheduleTime(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	d := open(t, memory.New(), clk, rec)
	at := t0.Add(5 * time.Minute)
	enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/later", ScheduleTime: at})
	enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/past", ScheduleTime: t0.Add(-time.Hour)})
	waitFor(t, "the past-due task", func() bool { return len(rec.snapshot()) == 1 })

	clk.Advance(5*time.Minute - time.Second)
	if next := idle(t, d); !next.Equal(at) {
		t.Errorf("next task due at %s, want %s", next, at)
	}
	if n := len(rec.snapshot()); n != 1 {
		t.Fatalf("scheduled task ran %s early", time.Second)
	}
	clk.Advance(time.Second)
	waitFor(t, "the scheduled task", func() bool { return len(rec.snapshot()) == 2 })
	if c := rec.snapshot()[1]; c.path != "/tasks/remediation/later" || c.at.Before(at) {
		t.Errorf("ran %s at %s, scheduled for %s", c.path, c.at, at)
	}
}

func TestNamedTaskDeduplicationWindow(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	d := open(t, memory.New(), clk, rec)
	task := queue.Task{Queue: "work", Name: "refresh-g1", Path: "/tasks/remediation/x", ScheduleTime: t0.Add(time.Minute)}
	enqueue(t, d, task)
	enqueue(t, d, task) // queued: refused quietly
	clk.Advance(time.Minute)
	waitFor(t, "the task", func() bool { return len(rec.snapshot()) == 1 })

	task.ScheduleTime = time.Time{}
	clk.Advance(59 * time.Minute) // ran a minute ago + 59 min: still inside the 1 h window
	enqueue(t, d, task)
	idle(t, d) // had the task been queued, it would be due now and run first
	if n := len(rec.snapshot()); n != 1 {
		t.Fatalf("task ran %d times; the name is taken for an hour after it ran", n)
	}
	// Another queue's task of the same name is another task.
	enqueue(t, d, queue.Task{Queue: "directory", Name: "refresh-g1", Path: "/tasks/directory/x"})
	clk.Advance(time.Minute) // the hour is over
	enqueue(t, d, task)
	waitFor(t, "the task again, and the other queue's", func() bool { return len(rec.snapshot()) == 3 })
}

// A restart of greep local is a new dispatcher on the same store: with the embedded bolt
// store, the file closed and opened again.
func TestDurableAcrossRestart(t *testing.T) {
	t.Run("bolt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "greep.db")
		var cur *bolt.Store
		t.Cleanup(func() {
			if cur != nil {
				_ = cur.Close()
			}
		})
		testDurableAcrossRestart(t, func() greep.RecordStore {
			if cur != nil {
				if err := cur.Close(); err != nil {
					t.Fatal(err)
				}
			}
			s, err := bolt.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			cur = s
			return s
		})
	})
	t.Run("memory", func(t *testing.T) {
		mem := memory.New()
		testDurableAcrossRestart(t, func() greep.RecordStore { return mem })
	})
}

func countRecords(t *testing.T, s greep.RecordStore, kind string) int {
	t.Helper()
	n := 0
	if err := s.Records(context.Background(), kind, func(string, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func testDurableAcrossRestart(t *testing.T, restart func() greep.RecordStore) {
	store := restart()
	clk := local.NewFakeClock(t0)

	// First life: three tasks queued, one of them attempted and failed once, then the
	// process goes away without finishing them.
	rec1 := &recorder{clock: clk, answer: func(path string, _ int, w http.ResponseWriter) {
		if path == "/tasks/remediation/failing" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}}
	d1, err := local.Open(context.Background(), store, config(t), local.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, d1, queue.Task{Queue: "work", Name: "failing", Path: "/tasks/remediation/failing"})
	if err := d1.Start(rec1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first attempt", func() bool { return len(rec1.snapshot()) == 1 })
	enqueue(t, d1, queue.Task{Queue: "work", Path: "/tasks/remediation/later", ScheduleTime: t0.Add(time.Hour)})
	enqueue(t, d1, queue.Task{Queue: "directory", Name: "g1", Path: "/tasks/directory/refresh", Body: []byte(`{"group":"g1"}`)})
	// Idle: the failure is recorded (its retry is 10 s out) and the directory task, due
	// at once, ran. (Waiting instead for three stored tasks and one retry raced with the
	// directory task: once it finished, three were never stored again.)
	if next := idle(t, d1); !next.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("next task due at %s, want the failed one's retry at %s", next, t0.Add(10*time.Second))
	}
	if n := len(rec1.snapshot()); n != 2 {
		t.Errorf("first life ran %d tasks, want 2 (failing, g1)", n)
	}
	if r := d1.Stats()["work"].Retries; r != 1 {
		t.Errorf("%d retries recorded, want 1", r)
	}
	if err := d1.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countRecords(t, store, "queue-task"); n != 2 {
		t.Fatalf("%d tasks stored after the first life, want 2 (failing, later)", n)
	}

	// Second life on the same store.
	store = restart()
	rec2 := &recorder{clock: clk}
	d2 := open(t, store, clk, rec2)
	enqueue(t, d2, queue.Task{Queue: "work", Name: "failing", Path: "/tasks/remediation/failing"}) // still queued
	enqueue(t, d2, queue.Task{Queue: "directory", Name: "g1", Path: "/tasks/directory/refresh"})   // ran: tombstoned
	drive(t, d2, clk, t0.Add(2*time.Hour), "both stored tasks", func() bool { return len(rec2.snapshot()) == 2 })
	if next := idle(t, d2); !next.IsZero() {
		t.Errorf("a task is still queued, due at %s", next)
	}
	calls := rec2.snapshot()
	if len(calls) != 2 {
		t.Fatalf("second life ran %d tasks, want 2: %+v", len(calls), calls)
	}
	if calls[0].path != "/tasks/remediation/failing" || calls[0].info.RetryCount != 1 {
		t.Errorf("first task after restart %+v: want the failed one, on its second attempt", calls[0])
	}
	if calls[1].path != "/tasks/remediation/later" || calls[1].at.Before(t0.Add(time.Hour)) {
		t.Errorf("second task after restart %+v: want the scheduled one, on time", calls[1])
	}
	if n := countRecords(t, store, "queue-task"); n != 0 {
		t.Errorf("%d tasks stored after all ran", n)
	}
}

func TestNoTaskRunsTwiceAtOnce(t *testing.T) {
	clk := local.NewFakeClock(t0)
	var running sync.Map
	var overlap atomic.Bool
	var runs atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, busy := running.LoadOrStore(r.URL.Path, true); busy {
			overlap.Store(true)
		}
		// Stands in for the work a handler does, widening the window an overlap would
		// need; a slower machine only widens it more.
		time.Sleep(time.Millisecond)
		running.Delete(r.URL.Path)
		runs.Add(1)
		if runs.Load()%2 == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	d := open(t, memory.New(), clk, h)
	for i := range 10 {
		enqueue(t, d, queue.Task{Queue: "work", Name: fmt.Sprint("t", i), Path: fmt.Sprintf("/tasks/remediation/%d", i)})
		enqueue(t, d, queue.Task{Queue: "work", Name: fmt.Sprint("t", i), Path: fmt.Sprintf("/tasks/remediation/%d", i)})
	}
	drive(t, d, clk, t0.Add(50*time.Minute), "every task done", func() bool { s := d.Stats()["work"]; return s.Backlog == 0 && s.Dispatched > 0 })
	if overlap.Load() {
		t.Error("a task ran twice at once")
	}
}

func TestStopWaitsForTasksInFlight(t *testing.T) {
	clk := local.NewFakeClock(t0)
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		finished.Store(true)
	})
	store := memory.New()
	d := open(t, store, clk, h)
	enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/slow"})
	<-started
	type result struct {
		err      error
		finished bool // whether the task had finished when Stop returned
	}
	stopping, stopped := make(chan struct{}), make(chan result)
	go func() {
		close(stopping)
		err := d.Stop(context.Background())
		stopped <- result{err, finished.Load()}
	}()
	// The task is released once Stop is being called; a Stop that did not wait for it
	// would return with the task unfinished. No sleep: the check holds however late the
	// release comes.
	<-stopping
	close(release)
	r := <-stopped
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.finished {
		t.Error("Stop returned with a task in flight")
	}
	if n := countRecords(t, store, "queue-task"); n != 0 {
		t.Errorf("%d tasks stored after Stop; the finished task must be gone", n)
	}
	if err := d.Enqueue(context.Background(), queue.Task{Queue: "work", Path: "/tasks/remediation/x"}); err == nil {
		t.Error("Enqueue after Stop accepted")
	}
}

func TestStopGivesUpAtDeadline(t *testing.T) {
	clk := local.NewFakeClock(t0)
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // a handler that only ends when cancelled
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	store := memory.New()
	d := open(t, store, clk, h)
	enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/stuck"})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want the deadline", err)
	}
	if n := countRecords(t, store, "queue-task"); n != 1 {
		t.Errorf("%d tasks stored; the interrupted task must stay for the next start", n)
	}
}

func TestEnqueueRefusesBadTasks(t *testing.T) {
	d := open(t, memory.New(), local.NewFakeClock(t0), nil)
	for name, task := range map[string]queue.Task{
		"unknown queue": {Queue: "nope", Path: "/tasks/remediation/x"},
		"other service": {Queue: "work", Path: "/tasks/directory/refresh"},
		"bad name":      {Queue: "work", Name: "a/b", Path: "/tasks/remediation/x"},
		"huge body":     {Queue: "work", Path: "/tasks/remediation/x", Body: make([]byte, local.MaxBody+1)},
		"too far ahead": {Queue: "work", Path: "/tasks/remediation/x", ScheduleTime: t0.Add(31 * 24 * time.Hour)},
		"name too long": {Queue: "work", Name: strings.Repeat("a", 501), Path: "/tasks/remediation/x"},
	} {
		err := d.Enqueue(context.Background(), task)
		if code := greep.ErrorCode(err); code != greep.EINVALID && code != greep.ETOOLARGE {
			t.Errorf("%s: error %v (code %q), want invalid or too large", name, err, code)
		}
	}
}

func TestStoreFailureIsReported(t *testing.T) {
	store := memory.New()
	d := open(t, store, local.NewFakeClock(t0), nil)
	store.Intercept(func(op string) error {
		if op == "PutRecord" || op == "CreateRecord" {
			return errors.New("store unavailable")
		}
		return nil
	})
	if err := d.Enqueue(context.Background(), queue.Task{Queue: "work", Name: "x", Path: "/tasks/remediation/x"}); err == nil {
		t.Fatal("Enqueue succeeded without storing the task")
	}
	store.Intercept(nil)
	// The failed attempt did not take the name.
	if err := d.Enqueue(context.Background(), queue.Task{Queue: "work", Name: "x", Path: "/tasks/remediation/x"}); err != nil {
		t.Fatal(err)
	}
	if countRecords(t, store, "queue-task") != 1 {
		t.Error("task not stored on the second try")
	}
}

// A task's record is keyed by its queue, when it was enqueued, then its ID: tasks are
// stored in the order they were queued, and mostly run in.
func TestTaskRecordsAreKeyedByEnqueueTime(t *testing.T) {
	clk := local.NewFakeClock(t0)
	store := memory.New()
	d := open(t, store, clk, &recorder{clock: clk})
	for _, name := range []string{"z", "a"} {
		clk.Advance(time.Minute)
		enqueue(t, d, queue.Task{Queue: "work", Name: name, Path: "/tasks/remediation/x", ScheduleTime: t0.Add(5 * time.Hour)})
	}
	var ids []string
	if err := store.Records(context.Background(), "queue-task", func(id string, _ []byte) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"work/20260504T090100.000000000Z/n-z", "work/20260504T090200.000000000Z/n-a"}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("task records %q, want %q", ids, want)
	}
}

// A task stored before task records were keyed by enqueue time (queue/ID) is loaded,
// keeps its name, runs, and its record is deleted when it is done.
func TestTaskRecordsOfEarlierStoresRunAndGo(t *testing.T) {
	ctx := context.Background()
	clk := local.NewFakeClock(t0)
	store := memory.New()
	old := `{"id":"n-old","queue":"work","name":"old","path":"/tasks/remediation/x","enqueued":"2026-05-04T08:00:00Z","nextAt":"2026-05-04T08:00:00Z"}`
	if err := store.PutRecord(ctx, "queue-task", "work/n-old", []byte(old)); err != nil {
		t.Fatal(err)
	}
	d := open(t, store, clk, nil)
	enqueue(t, d, queue.Task{Queue: "work", Name: "old", Path: "/tasks/remediation/x"})
	if s := d.Stats()["work"]; s.Backlog != 1 {
		t.Fatalf("backlog %d, want 1: the stored task holds its name", s.Backlog)
	}
	rec := &recorder{clock: clk}
	if err := d.Start(rec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stored task", func() bool { return len(rec.snapshot()) == 1 })
	idle(t, d)
	if n := countRecords(t, store, "queue-task"); n != 0 {
		t.Errorf("%d task records after the stored task ran, want 0", n)
	}
}
