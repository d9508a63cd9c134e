package local_test

// Against the Workspace simulator: tasks dispatched by the local dispatcher, each making
// one Directory API call through the official client wrapped with the one-call rule and
// the daily budget guard, on the simulator's clock.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// counters is an in-memory quota.Counter.
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counters) AddCount(_ context.Context, name string, d int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[name] += d
	return c.m[name], nil
}

func (c *counters) Count(_ context.Context, name string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name], nil
}

// item is the body of a test task: one group to read.
type item struct {
	ID     int    `json:"id"`
	Group  string `json:"group"`
	Parked bool   `json:"parked,omitempty"` // rescheduled to the quota reset
}

// rig is a simulator, the dispatcher on its clock, and handlers that make one Directory
// call per task.
type rig struct {
	sim   *workspacesim.Server
	d     *local.Dispatcher
	guard *quota.Guard
	cfg   *queueconfig.Config

	mu          sync.Mutex
	done        map[int]string // item -> lane that completed it
	outstanding int
	parked      map[int]time.Time // item -> the reset it waits for
	refusals    []*quota.ExhaustedError
	googleErrs  map[string]int // reason -> count
}

func newRig(t testing.TB, cfgYAML string, simCfg workspacesim.Config, scale float64) *rig {
	t.Helper()
	cfg, err := queueconfig.Parse("test.yaml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := workspacesim.Start(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r := &rig{sim: srv, cfg: cfg, done: map[int]string{}, parked: map[int]time.Time{}, googleErrs: map[string]int{}}
	r.guard = quota.New(&counters{}, cfg, quota.WithClock(srv.Sim.Now))
	ctx := context.Background()
	clients, err := workspace.New(ctx, workspace.Config{
		Endpoint:     srv.URL,
		AdminSubject: srv.Sim.Admin(),
		Wrap:         callbudget.Wrap(r.guard, callbudget.OnViolation(func(err error) { t.Error(err) })),
	})
	if err != nil {
		t.Fatal(err)
	}
	clock := local.ScaledClock(srv.Sim.Now, scale)
	srv.Sim.OnAdvance(clock.Moved)
	r.d, err = local.Open(ctx, memory.New(), cfg, local.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}

	handle := func(call func(ctx context.Context, group string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			var it item
			if err := json.NewDecoder(req.Body).Decode(&it); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			info, _ := queue.InfoFrom(req.Context())
			r.mu.Lock()
			delete(r.parked, it.ID)
			r.mu.Unlock()
			err := call(req.Context(), it.Group)
			r.mu.Lock()
			defer r.mu.Unlock()
			var ex *quota.ExhaustedError
			var gerr *googleapi.Error
			switch {
			case err == nil:
				r.done[it.ID] = info.Queue
				r.outstanding--
			case errors.As(err, &ex):
				// The budget is spent: park the work until the quota day ends.
				r.refusals = append(r.refusals, ex)
				it.Parked = true
				body, _ := json.Marshal(it)
				if err := r.d.Enqueue(context.Background(), queue.Task{Queue: info.Queue, Path: req.URL.Path, Body: body, ScheduleTime: ex.ResetAt}); err != nil {
					t.Errorf("rescheduling: %v", err)
				}
				r.parked[it.ID] = ex.ResetAt
			case errors.As(err, &gerr):
				for _, e := range gerr.Errors {
					r.googleErrs[e.Reason]++
				}
				w.WriteHeader(gerr.Code)
			default:
				t.Errorf("task %d: %v", it.ID, err)
				w.WriteHeader(http.StatusInternalServerError)
			}
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/tasks/directory/members", handle(func(ctx context.Context, g string) error {
		_, err := clients.Directory.Members.List(g).MaxResults(200).Context(ctx).Do()
		return err
	}))
	mux.Handle("/tasks/directory/group", handle(func(ctx context.Context, g string) error {
		_, err := clients.Directory.Groups.Get(g).Context(ctx).Do()
		return err
	}))
	if err := r.d.Start(queue.OnlyTasks(false)(callbudget.PerTask(mux))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.d.Stop(context.Background()) })
	return r
}

// enqueue puts n tasks on lane, each reading one of the tenant's groups.
func (r *rig) enqueue(t testing.TB, lane, path string, n, firstID int) {
	t.Helper()
	truth, err := r.sim.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.outstanding += n
	r.mu.Unlock()
	for i := range n {
		body, _ := json.Marshal(item{ID: firstID + i, Group: truth.Groups[i%len(truth.Groups)].Email})
		if err := r.d.Enqueue(context.Background(), queue.Task{Queue: lane, Path: path, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
}

// stalled reports whether every task left is parked until a reset still to come: the
// day's budget is spent and nothing else will run before the reset.
func (r *rig) stalled() bool {
	now := r.sim.Sim.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	waiting := 0
	for _, at := range r.parked {
		if at.After(now) {
			waiting++
		}
	}
	return r.outstanding == waiting
}

func (r *rig) left() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outstanding
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitUntilFor(t, what, 20*time.Second, cond)
}

func waitUntilFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	wait.For(t, limit, what, cond)
}

const budgetYAML = `apis:
  directory:
    shortWindow: {limit: 2400, per: 1m}
    perDay: 200
    headroom: 0.1
queues:
  directory:
    api: directory
    share: 0.3
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 5}
  directory-sweep:
    api: directory
    share: 0.65
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 5}
    background: true
    dailyBudget: 0.5
`

func TestDailyBudgetOnASimulatedDay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated day against the simulator")
	}
	la, _ := time.LoadLocation("America/Los_Angeles")
	r := newRig(t, budgetYAML, workspacesim.Config{
		Users: 30, Groups: 40, Seed: 4,
		Start:       time.Date(2026, 5, 4, 20, 0, 0, 0, la), // four hours before the reset
		TimeScale:   10,
		QuotaPerDay: map[string]int64{workspacesim.APIDirectory: 200},
	}, 10)
	const sweepTasks, pushTasks = 150, 250
	r.enqueue(t, "directory-sweep", "/tasks/directory/members", sweepTasks, 0)
	r.enqueue(t, "directory", "/tasks/directory/group", pushTasks, 1000)

	// Day 1: run until every task left is parked until the reset.
	waitUntil(t, "day 1's budget to be spent", r.stalled)
	st := r.sim.Sim.Stats()
	if st.UsedToday[workspacesim.APIDirectory] != 200 {
		t.Errorf("day 1 used %d calls, want the whole limit of 200 (push work uses what the sweep leaves)", st.UsedToday[workspacesim.APIDirectory])
	}
	r.mu.Lock()
	var sweepDone, pushDone int
	for _, lane := range r.done {
		if lane == "directory-sweep" {
			sweepDone++
		} else {
			pushDone++
		}
	}
	sweepStops, pushStops := map[int64]bool{}, map[int64]bool{}
	for _, ex := range r.refusals {
		if ex.Background {
			sweepStops[ex.Used] = true
		} else {
			pushStops[ex.Used] = true
		}
	}
	r.mu.Unlock()
	if sweepDone > 100 || sweepDone == 0 {
		t.Errorf("the sweep made %d calls on day 1; it stops at 0.5 of 200", sweepDone)
	}
	for used := range sweepStops {
		if used < 100 {
			t.Errorf("the sweep was stopped at %d calls, before its budget of 100", used)
		}
	}
	for used := range pushStops {
		if used != 200 {
			t.Errorf("push work was stopped at %d calls, not at the limit of 200", used)
		}
	}
	if len(sweepStops) == 0 || len(pushStops) == 0 || pushDone != 200-sweepDone {
		t.Errorf("day 1: sweep %d calls (stopped at %v), push %d (stopped at %v)", sweepDone, sweepStops, pushDone, pushStops)
	}

	// Later days: the reset lets the parked work run again, within each day's budget.
	for day := 2; ; day++ {
		if r.left() == 0 {
			break
		}
		if day > 4 {
			t.Fatalf("work left after %d simulated days", day-1)
		}
		before := len(r.snapshotDone())
		_, reset := r.guard.Day(r.sim.Sim.Now())
		r.sim.Sim.Advance(reset.Sub(r.sim.Sim.Now()) + time.Second)
		waitUntil(t, fmt.Sprintf("day %d's work", day), func() bool { return r.stalled() && len(r.snapshotDone()) > before })
		if used := r.sim.Sim.Stats().UsedToday[workspacesim.APIDirectory]; used > 200 {
			t.Errorf("day %d used %d calls", day, used)
		}
	}
	st = r.sim.Sim.Stats()
	if st.Rejected.DailyLimit != 0 || st.Rejected.RateLimit != 0 || len(r.googleErrs) != 0 {
		t.Errorf("Google errors: daily %d, rate %d, %v", st.Rejected.DailyLimit, st.Rejected.RateLimit, r.googleErrs)
	}
	if n := len(r.snapshotDone()); n != sweepTasks+pushTasks {
		t.Errorf("%d of %d work items done", n, sweepTasks+pushTasks)
	}
}

func (r *rig) snapshotDone() map[int]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int]string, len(r.done))
	for k, v := range r.done {
		out[k] = v
	}
	return out
}

// rateYAML paces the Directory API at a small per-minute quota, so a test crosses
// several of the simulator's calendar-minute windows in a few seconds.
const rateYAML = `apis:
  directory:
    shortWindow: {limit: 600, per: 1m}
    perDay: 1000000
    headroom: 0.1
queues:
  directory:
    api: directory
    share: 0.3
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 10
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 5}
  directory-sweep:
    api: directory
    share: 0.7
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 10
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 5}
    background: true
    dailyBudget: 0.5
`

func TestDerivedRateStaysInsideTheShortWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs simulated minutes against the simulator")
	}
	r := newRig(t, rateYAML, workspacesim.Config{Users: 30, Groups: 40, Seed: 5, TimeScale: 20, QuotaPerMinute: 600}, 20)
	start := r.sim.Sim.Now()
	// More work than 2.5 simulated minutes at 9/s can do: the lanes stay busy throughout.
	r.enqueue(t, "directory-sweep", "/tasks/directory/members", 1200, 0)
	r.enqueue(t, "directory", "/tasks/directory/group", 600, 10000)
	waitUntil(t, "2.5 simulated minutes", func() bool { return r.sim.Sim.Now().Sub(start) > 150*time.Second })
	st := r.sim.Sim.Stats()
	if st.Rejected.RateLimit != 0 || r.googleErrs["userRateLimitExceeded"] != 0 {
		t.Errorf("%d calls refused with userRateLimitExceeded, at the derived rate", st.Rejected.RateLimit)
	}
	if calls := st.Calls["directory.members.list"] + st.Calls["directory.groups.get"]; calls == 0 {
		t.Error("no calls made")
	}
}

// BenchmarkDirectoryRateAgainstSimulator runs the shipped queues.yaml's two Directory
// lanes, both kept busy, against the simulator at Google's default quota (2,400 a minute
// per user) for three simulated minutes, and reports the rate achieved as a fraction of the
// rate the lanes are allowed (their shares of the quota less headroom) and of the quota
// itself. It fails if any call is refused with userRateLimitExceeded.
//
//	go test -run '^$' -bench DirectoryRateAgainstSimulator -benchtime 1x ./pkg/queue/local
func BenchmarkDirectoryRateAgainstSimulator(b *testing.B) {
	const scale = 8
	shipped, err := queueconfig.Load("../../../queues.yaml")
	if err != nil {
		b.Fatal(err)
	}
	yaml := mustReadFile(b, "../../../queues.yaml")
	for range b.N {
		r := newRig(b, yaml, workspacesim.Config{Users: 50, Groups: 100, Seed: 6, TimeScale: scale}, scale)
		push, _ := shipped.Lane("directory")
		sweep, _ := shipped.Lane("directory-sweep")
		allowed := push.RatePerSecond() + sweep.RatePerSecond()
		const span = 3 * time.Minute
		r.enqueue(b, "directory-sweep", "/tasks/directory/members", int(sweep.RatePerSecond()*span.Seconds()*1.2), 0)
		r.enqueue(b, "directory", "/tasks/directory/group", int(push.RatePerSecond()*span.Seconds()*1.2), 100000)
		start := r.sim.Sim.Now()
		before := r.sim.Sim.Stats()
		waitUntilFor(b, "the span", 2*time.Duration(float64(span)/scale), func() bool { return r.sim.Sim.Now().Sub(start) >= span })
		st := r.sim.Sim.Stats()
		elapsed := st.Now.Sub(start).Seconds()
		calls := float64(st.Calls["directory.members.list"] + st.Calls["directory.groups.get"] -
			before.Calls["directory.members.list"] - before.Calls["directory.groups.get"])
		if st.Rejected.RateLimit != 0 {
			b.Fatalf("%d calls refused with userRateLimitExceeded", st.Rejected.RateLimit)
		}
		b.ReportMetric(calls/elapsed, "calls/sim-s")
		b.ReportMetric(calls/elapsed/allowed, "of-allowed")
		b.ReportMetric(calls/elapsed/(float64(workspacesim.DefaultQuotaPerMinute)/60), "of-quota")
		b.ReportMetric(float64(st.Rejected.RateLimit), "rate-limited")
		_ = r.d.Stop(context.Background())
	}
}

func mustReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
