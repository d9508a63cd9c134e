package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// config is greep local as a library against the test's simulator.
func config(s *simServer, dataDir string) local.Config {
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.APIToken = "test-token"
	cfg.Workspace = s.URL
	cfg.SimClock = s.Sim.Now
	cfg.AdminSubject = s.Sim.Admin()
	cfg.TimeScale = timeScale
	cfg.QueuesFile = "../../queues.yaml"
	cfg.ResyncEvery = 0
	cfg.NoPush, cfg.NoRemediation = true, true
	return cfg
}

// idle reports whether every queue of the App is empty.
func idle(app *local.App) (bool, string) {
	for name, s := range app.Dispatcher.Stats() {
		if s.Backlog > 0 {
			return false, name + " has a backlog"
		}
	}
	return true, ""
}

// settled waits until the sweep is finished, the remediation left nothing unsafe in the
// truth, and the queues stayed empty for several looks in a row (a task that just ran
// may queue the next).
func settled(t *testing.T, app *local.App, s *simServer, want func() (bool, string)) {
	t.Helper()
	quiet := 0
	eventually(t, converge, "a settled cache", func() (bool, string) {
		_, sw, err := app.Directory.Progress(context.Background())
		if err != nil {
			return false, err.Error()
		}
		if sw.Generation == 0 || sw.Running() {
			quiet = 0
			return false, "the sweep is running"
		}
		if ok, why := want(); !ok {
			quiet = 0
			return false, why
		}
		if ok, why := idle(app); !ok {
			quiet = 0
			return false, why
		}
		quiet++
		return quiet >= 10, "queues empty for a moment only"
	})
}

// With 10% of API calls failing (429 rateLimitExceeded, 500 and 503 backendError) and 5%
// answered slowly, a full sync still ends with the cache equal to the truth and a
// remediation run patches every unsafe group exactly once.
func TestInjectedErrorsDuringSyncAndRemediation(t *testing.T) {
	groups := 100
	if testing.Short() {
		groups = 40
	}
	faults := workspacesim.Faults{RateLimited: 0.04, InternalError: 0.03, Unavailable: 0.03, Slow: 0.05, SlowDelay: 100 * time.Millisecond}
	s := startSim(t, workspacesim.Config{Users: groups / 2, Groups: groups, Seed: 9, TimeScale: timeScale, Faults: faults})
	rulesPath, rc := rulesFile(t)
	before, err := s.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	want := unsafeGroups(t, rc, before, s.Sim.Now())
	if len(want) < 5 {
		t.Fatalf("the tenant has only %d unsafe groups; pick another seed", len(want))
	}

	cfg := config(s, t.TempDir())
	cfg.NoRemediation, cfg.Rules, cfg.Remediation = false, rulesPath, "remediate"
	start := time.Now()
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())

	settled(t, app, s, func() (bool, string) {
		now, err := s.Sim.Truth("")
		if err != nil {
			return false, err.Error()
		}
		left := unsafeGroups(t, rc, now, s.Sim.Now())
		return len(left) == 0, strings.Join(keys(left), ", ") + " still unsafe"
	})
	took := time.Since(start)

	ctx := context.Background()
	diffs, err := diffTruth(ctx, app.Store, s.Sim, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("cache differs from the truth: %s", describe(diffs))
	}
	p := patchReport(t, want, s.Writes.snapshot(), nil)
	for _, r := range p.Resent {
		t.Error(r)
	}
	fixed, err := findingsFixed(ctx, app.Store)
	if err != nil {
		t.Fatal(err)
	}
	for g := range want {
		if fixed[g] == 0 {
			t.Errorf("%s: patched, but no finding of it says fixed", g)
		}
	}
	if len(fixed) != len(want) {
		t.Errorf("%d groups have fixed findings, %d were patched", len(fixed), len(want))
	}

	st := s.Sim.Stats()
	if st.Rejected.Injected == 0 {
		t.Fatal("no fault was injected: the test proved nothing")
	}
	t.Logf("%d groups, %d unsafe: %d patched, %d PATCH calls answered or refused; %d injected faults out of %d calls; calls %v; %.1fs wall",
		groups, len(want), p.Patched, st.Calls["groupssettings.groups.patch"], st.Rejected.Injected, sum(st.Calls), st.Calls, took.Seconds())
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// With 20% of push notifications lost while the tenant changes, the cache misses exactly
// the changes whose notification was lost, and the next resync (groups.list against the
// cache's etags) brings it back to the truth.
func TestDroppedPushesRepairedByResync(t *testing.T) {
	groups, changes := 100, 40
	if testing.Short() {
		groups, changes = 50, 30
	}
	s := startSim(t, workspacesim.Config{Users: groups / 2, Groups: groups, Seed: 5, TimeScale: timeScale, DropRate: 0.2})
	cfg := config(s, t.TempDir())
	cfg.NoPush = false
	cfg.Debounce = 30 * time.Second
	ctx := context.Background()
	start := time.Now()
	app, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)

	eventually(t, converge, "the full sync and the watch channels", func() (bool, string) {
		_, sw, err := app.Directory.Progress(ctx)
		if err != nil {
			return false, err.Error()
		}
		st := s.Sim.Stats()
		return sw.Generation > 0 && !sw.Running() && st.Channels >= 1, fmt.Sprintf("sweep %+v, %d channels", sw, st.Channels)
	})
	syncGen := mustSweep(t, app).Generation
	pushedBefore := s.Sim.Stats().Pushes

	// One change per group (so a lost notification is a group the cache gets wrong), in
	// batches, while the pushes of the previous batches are being handled.
	truth, err := s.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 9))
	order := rng.Perm(len(truth.Groups))
	var muts []workspacesim.Mutation
	for i := 0; i < changes; i++ {
		g := truth.Groups[order[i]]
		var m workspacesim.Mutation
		switch {
		case i%4 == 1 && len(g.Members) > 0:
			m = workspacesim.Mutation{Op: "removeMember", Group: g.Email, Member: g.Members[rng.IntN(len(g.Members))].Email}
		case i%4 == 2 && len(g.Members) > 0:
			m = workspacesim.Mutation{Op: "updateMember", Group: g.Email, Member: g.Members[0].Email, Role: otherRole(g.Members[0].Role)}
		case i%4 == 3:
			m = workspacesim.Mutation{Op: "createGroup", Group: fmt.Sprintf("new-%d@%s", i, s.Sim.Domain())}
		default:
			m = workspacesim.Mutation{Op: "addMember", Group: g.Email, Member: fmt.Sprintf("visitor-%d@outside.test", i)}
		}
		muts = append(muts, m)
	}
	for len(muts) > 0 {
		n := min(5, len(muts))
		if err := s.Sim.Apply(muts[:n]); err != nil {
			t.Fatal(err)
		}
		muts = muts[n:]
		time.Sleep(30 * time.Millisecond)
	}

	// Every notification delivered or dropped, every refresh done.
	var last workspacesim.PushStats
	quiet := 0
	eventually(t, converge, "the pushes handled", func() (bool, string) {
		p := s.Sim.Stats().Pushes
		empty, why := idle(app)
		if p != last || !empty {
			last, quiet = p, 0
			return false, fmt.Sprintf("pushes %+v; %s", p, why)
		}
		quiet++
		return quiet >= 20, "settling"
	})
	dropped := last.Dropped - pushedBefore.Dropped
	if dropped == 0 {
		t.Fatalf("no notification was dropped (%+v): the test proved nothing", last)
	}
	diffs, err := diffTruth(ctx, app.Store, s.Sim, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Each stale group is one whose change went unnoticed: never more than were lost.
	stale := groupsIn(diffs)
	if len(stale) == 0 {
		t.Fatalf("%d notifications dropped yet no group is stale: the test proved nothing", dropped)
	}
	if int64(len(stale)) > dropped {
		t.Errorf("%d groups differ from the truth with %d notifications lost: %s", len(stale), dropped, describe(diffs))
	}
	t.Logf("%d changes, %d notifications delivered, %d dropped: %d groups stale before the resync", changes, last.Delivered-pushedBefore.Delivered, dropped, len(stale))

	callsBefore := s.Sim.Stats().Calls
	started, err := app.Directory.StartResync(ctx)
	if err != nil || !started {
		t.Fatalf("starting the resync: %v (started %v)", err, started)
	}
	eventually(t, converge, "the resync", func() (bool, string) {
		sw := mustSweep(t, app)
		return sw.Generation > syncGen && !sw.Running(), fmt.Sprintf("sweep %+v", sw)
	})
	eventually(t, converge, "the cache equal to the truth after the resync", func() (bool, string) {
		if diffs, err = diffTruth(ctx, app.Store, s.Sim, 10); err != nil {
			return false, err.Error()
		}
		return len(diffs) == 0, describe(diffs)
	})
	after := s.Sim.Stats().Calls
	t.Logf("resync: %d groups.list, %d groups.get, %d members.list calls; %.1fs wall in all",
		after["directory.groups.list"]-callsBefore["directory.groups.list"], after["directory.groups.get"]-callsBefore["directory.groups.get"],
		after["directory.members.list"]-callsBefore["directory.members.list"], time.Since(start).Seconds())
}

func otherRole(r string) string {
	if r == "MANAGER" {
		return "MEMBER"
	}
	return "MANAGER"
}

func mustSweep(t *testing.T, app *local.App) directory.Sweep {
	t.Helper()
	sw, err := app.Directory.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sw
}
