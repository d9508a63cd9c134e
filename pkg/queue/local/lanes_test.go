package local_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
)

// lanesYAML is one API at 10 calls a second (600 a minute, no headroom), split as the
// shipped Directory lanes are: push 0.3 (3/s), the sweep 0.7 (7/s) as its floor.
const lanesYAML = `apis:
  directory:
    shortWindow: {limit: 600, per: 1m}
    perDay: 1000000
    headroom: 0
queues:
  directory:
    api: directory
    share: 0.3
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
  directory-sweep:
    api: directory
    share: 0.7
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
    background: true
    dailyBudget: 0.5
`

func openLanes(t *testing.T, clk local.Clock, h *recorder) *local.Dispatcher {
	t.Helper()
	return openYAML(t, lanesYAML, clk, h)
}

// openYAML starts a dispatcher of the queues in yaml, stopped when the test ends.
func openYAML(t *testing.T, yaml string, clk local.Clock, h *recorder) *local.Dispatcher {
	t.Helper()
	cfg, err := queueconfig.Parse("queues.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d, err := local.Open(context.Background(), memory.New(), cfg, local.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d
}

// callsIn counts the calls on path made in [from, to) of the clock.
func callsIn(calls []call, path string, from, to time.Time) int {
	n := 0
	for _, c := range calls {
		if (path == "" || c.path == path) && !c.at.Before(from) && c.at.Before(to) {
			n++
		}
	}
	return n
}

func TestSweepAloneGetsTheWholeRate(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	d := openLanes(t, clk, rec)
	const n = 300
	for i := range n {
		enqueue(t, d, queue.Task{Queue: "directory-sweep", Path: fmt.Sprintf("/tasks/directory/sweep/%d", i)})
	}
	drive(t, d, clk, t0.Add(5*time.Minute), "the sweep", func() bool { return len(rec.snapshot()) == n })
	// 10/s, the whole window, not the 7/s of the sweep's share: past the bucket's first
	// second, 200 calls in 20 s, give or take a batch of 5 at either end.
	if got := callsIn(rec.snapshot(), "", t0.Add(5*time.Second), t0.Add(25*time.Second)); got < 195 || got > 205 {
		t.Errorf("the sweep made %d calls in 20 simulated seconds with nothing else queued; want 200 (10/s)", got)
	}
	if s := d.Stats()["directory-sweep"]; s.RatePerSecond != 10 {
		t.Errorf("the sweep's rate in the stats is %v, want its ceiling, 10", s.RatePerSecond)
	}
}

func TestPushStartsAtItsDebounceDuringASweep(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	d := openLanes(t, clk, rec)
	const sweep = 600 // a minute of the whole rate: the sweep is busy throughout
	for i := range sweep {
		enqueue(t, d, queue.Task{Queue: "directory-sweep", Path: fmt.Sprintf("/tasks/directory/sweep/%d", i)})
	}
	// Debounced refreshes, one every 2 s from t0+5s, and a burst of 30 at t0+30s: more
	// than push's 3/s, which must then keep to its share and leave the sweep its floor.
	due := map[string]time.Time{}
	for i := range 10 {
		at := t0.Add(5*time.Second + time.Duration(i)*2*time.Second)
		p := fmt.Sprintf("/tasks/directory/refresh/%d", i)
		due[p] = at
		enqueue(t, d, queue.Task{Queue: "directory", Name: fmt.Sprintf("refresh-%d", i), Path: p, ScheduleTime: at})
	}
	burstAt := t0.Add(30 * time.Second)
	for i := range 30 {
		enqueue(t, d, queue.Task{Queue: "directory", Path: fmt.Sprintf("/tasks/directory/burst/%d", i), ScheduleTime: burstAt})
	}
	drive(t, d, clk, t0.Add(10*time.Minute), "every task", func() bool { return len(rec.snapshot()) == sweep+10+30 })

	calls := rec.snapshot()
	for _, c := range calls {
		if at, ok := due[c.path]; ok {
			if late := c.at.Sub(at); late < 0 || late > time.Second {
				t.Errorf("%s started %s after its debounce ended, want within 1s", c.path, late)
			}
		}
	}
	// The window's 10/s is never exceeded: at most 10 calls in any second, plus the
	// window's bucket of one second; and 600 in any minute, plus that bucket.
	for from := t0; from.Before(t0.Add(70 * time.Second)); from = from.Add(100 * time.Millisecond) {
		if n := callsIn(calls, "", from, from.Add(time.Second)); n > 20 {
			t.Fatalf("%d calls in the second from %s: the window allows 10 and its bucket 10", n, from.Sub(t0))
		}
		if n := callsIn(calls, "", from, from.Add(time.Minute)); n > 610 {
			t.Fatalf("%d calls in the minute from %s: the window allows 600 and its bucket 10", n, from.Sub(t0))
		}
	}
	// During the burst push keeps to its 3/s and the sweep keeps at least its 7/s.
	burst := func(path string) int {
		n := 0
		for _, c := range calls {
			if len(c.path) > len(path) && c.path[:len(path)] == path && !c.at.Before(burstAt) && c.at.Before(burstAt.Add(5*time.Second)) {
				n++
			}
		}
		return n
	}
	// The sweep's 35 may lose one batch of 5 at the window's edges (the window's bucket
	// can hold up to a batch when the window opens and none when it closes); were push
	// not capped, its 30 would take the window's whole rate for 3 s and leave the sweep
	// about 20.
	if p, s := burst("/tasks/directory/burst/"), burst("/tasks/directory/sweep/"); p > 16 || s < 30 {
		t.Errorf("in the 5 s after a burst of 30 refreshes: %d refreshes (push's share allows 15, plus its bucket of one), %d sweep calls (its floor is 35, less a batch at the edges)", p, s)
	}
}

// batchYAML is lanesYAML at 60 calls a second: the window's bucket holds a second of
// tokens, 60, and a background lane waits for 30 of them at a time (its concurrency holds
// two batches, as the shipped sweeps' 40 hold two of 18: a batch is dispatched while the
// one before it still runs).
var batchYAML = strings.NewReplacer("limit: 600,", "limit: 3600,", "concurrency: 5", "concurrency: 60").Replace(lanesYAML)

// instants counts the distinct clock readings of the calls on paths starting with prefix.
func instants(calls []call, prefix string) int {
	seen := map[time.Time]bool{}
	for _, c := range calls {
		if strings.HasPrefix(c.path, prefix) {
			seen[c.at] = true
		}
	}
	return len(seen)
}

func TestSweepDispatchesInBatchesAtTheSameRate(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	d := openYAML(t, batchYAML, clk, rec)

	const n = 600 // ten seconds of the whole rate
	for i := range n {
		enqueue(t, d, queue.Task{Queue: "directory-sweep", Path: fmt.Sprintf("/tasks/directory/sweep/%d", i)})
	}
	drive(t, d, clk, t0.Add(time.Minute), "the sweep", func() bool { return len(rec.snapshot()) == n })
	calls := rec.snapshot()
	// The bucket's first 60, then batches of 30: about twenty wake-ups, not 600.
	if got := instants(calls, "/tasks/directory/sweep/"); got > n/30+3 {
		t.Errorf("the sweep's %d calls went at %d distinct instants; want batches of 30 (at most %d)", n, got, n/30+3)
	}
	// The whole rate: the 540 after the bucket's 60 take 9 s at 60/s.
	last := calls[len(calls)-1].at
	if took := last.Sub(t0); took < 8900*time.Millisecond || took > 9300*time.Millisecond {
		t.Errorf("the sweep's %d calls took %s; want the window's whole rate, 60/s after its bucket of 60 (9s)", n, took)
	}
	for from := t0; from.Before(last); from = from.Add(100 * time.Millisecond) {
		if got := callsIn(calls, "", from, from.Add(time.Second)); got > 60+60 {
			t.Fatalf("%d calls in the second from %s: the window allows 60 and its bucket 60", got, from.Sub(t0))
		}
	}

	// Push work is never held for a batch: each refresh goes when its token does.
	at := clk.Now().Add(time.Second)
	for i := range 30 {
		enqueue(t, d, queue.Task{Queue: "directory", Path: fmt.Sprintf("/tasks/directory/refresh/%d", i), ScheduleTime: at})
	}
	drive(t, d, clk, at.Add(time.Minute), "the refreshes", func() bool { return len(rec.snapshot()) == n+30 })
	// Push's own bucket (18/s) lets its first 4 go together; the rest go one by one.
	if got := instants(rec.snapshot(), "/tasks/directory/refresh/"); got < 30-4 {
		t.Errorf("30 refreshes went at %d distinct instants; want each after its own token (at least 26)", got)
	}
}
