package push_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/push"
	qlocal "github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// pipeline is the push path assembled as greep local assembles it: a time-scaled
// simulator, the embedded store, the local dispatcher on the simulator's clock, and the
// reports worker, the webhook and the directory worker on one HTTP server.
type pipeline struct {
	sim      *workspacesim.Sim
	store    *bolt.Store
	debounce time.Duration
}

const timeScale = 60 // a simulated minute per wall second

func startPipeline(t *testing.T, readLag time.Duration) *pipeline {
	t.Helper()
	ctx := context.Background()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 30, Groups: 20, Seed: 3, TimeScale: timeScale, ReadLag: readLag, QuotaPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	queues, err := queueconfig.Load(filepath.Join("..", "..", "queues.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	clock := qlocal.ScaledClock(srv.Sim.Now, timeScale)
	d, err := qlocal.Open(ctx, store, queues, qlocal.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{sim: srv.Sim, store: store, debounce: 2 * time.Minute}
	mux := http.NewServeMux()
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	rw, err := reports.New(store, clients.Reports, d, reports.Config{Address: server.URL + push.Path, Now: srv.Sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(directory.Config{Store: store, Directory: clients.Directory, Queue: d, Now: srv.Sim.Now})
	mux.Handle(push.Path, push.New(store, d, push.Config{Debounce: p.debounce, Now: srv.Sim.Now}))
	mux.Handle("/tasks/reports/", rw.Handler(false))
	mux.Handle("/tasks/directory/", dir.Handler())
	if err := d.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Stop(ctx)
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); rw.Run(runCtx, 10*time.Minute, clock.After) }()
	t.Cleanup(func() { cancel(); <-done })

	// The channels are up when the simulator counts two live ones.
	waitFor(t, 30*time.Second, "two live channels", func() bool { return srv.Sim.Stats().Channels == 2 })
	return p
}

// waitFor polls cond in wall time.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	wait.For(t, limit, what, cond)
}

// cached reports whether the cache lists member in group.
func (p *pipeline) cached(t *testing.T, group, member string) bool {
	g, err := p.store.Group(context.Background(), group)
	if err != nil {
		return false
	}
	ms, err := p.store.Members(context.Background(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(ms, func(m greep.Member) bool { return m.Email == member })
}

// freshness adds one member to each of n groups, one after another, and returns how long
// (simulated) each took to show in the cache.
func (p *pipeline) freshness(t *testing.T, n int, limit time.Duration) []time.Duration {
	t.Helper()
	truth, err := p.sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Duration
	for i, g := range truth.Groups[:n] {
		member := fmt.Sprintf("fresh%d@outside.example", i)
		at := p.sim.Now()
		if err := p.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: member}}); err != nil {
			t.Fatal(err)
		}
		// The deadline is generous in wall time: on a loaded machine a wall second is a
		// simulated minute, so how long a change takes is not what these tests judge.
		wall := time.Duration(float64(limit) / timeScale)
		waitFor(t, wall+2*time.Minute, "cached "+member, func() bool { return p.cached(t, g.Email, member) })
		out = append(out, p.sim.Now().Sub(at))
	}
	return out
}

// TestFreshnessEndToEnd: a membership change made in the simulator shows in the cache
// within the debounce window plus a few seconds of simulated time.
func TestFreshnessEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole push path")
	}
	p := startPipeline(t, 0)
	const n = 5
	before := p.sim.Stats().Calls["directory.members.list"]
	lags := p.freshness(t, n, p.debounce+time.Minute)
	slices.Sort(lags)
	t.Logf("freshness (simulated): p50 %v, max %v", lags[len(lags)/2].Round(time.Second), lags[len(lags)-1].Round(time.Second))
	// How far past the debounce a change shows depends on the machine (the dispatcher's
	// timers run on the wall clock, a wall second is a simulated minute), so the bound
	// judged here is the behaviour: never before the debounce, and one read per change,
	// so the first refresh after the debounce is the one that showed it. The figures are
	// greep bench's (push scenario).
	for _, l := range lags {
		if l < p.debounce {
			t.Errorf("a change showed after %v (simulated), before the %v debounce ended", l, p.debounce)
		}
	}
	if got := p.sim.Stats().Calls["directory.members.list"] - before; got != n {
		t.Errorf("%d members.list calls for %d changes, want one refresh each", got, n)
	}
}

// TestReadLagLongerThanDebounce: with Google's reads lagging writes by longer than the
// debounce window, the refresh does not see the change yet, the directory worker re-polls
// on the expectation the webhook put in the task, and the cache ends right.
func TestReadLagLongerThanDebounce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole push path")
	}
	const lag = 4 * time.Minute
	p := startPipeline(t, lag)
	before := p.sim.Stats().Calls["directory.groups.get"]
	lags := p.freshness(t, 1, lag+10*time.Minute)
	if lags[0] < lag {
		t.Errorf("the change showed after %v, before Google's read could show it (%v)", lags[0], lag)
	}
	if n := p.sim.Stats().Calls["directory.groups.get"] - before; n < 2 {
		t.Errorf("%d group reads: the refresh did not re-poll", n)
	}
	t.Logf("with a %v read lag the change showed after %v (simulated)", lag, lags[0].Round(time.Second))
}
