package faulttest

import (
	"context"
	"strings"
	"testing"
	"time"

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
	diffs, err := diffTruth(ctx, app.Store, s.Sim)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("cache differs from the truth: %s", describe(diffs))
	}
	patched, resent := patchReport(t, want, s.Writes.snapshot(), nil)
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
	t.Logf("%d groups, %d unsafe: %d patched (%d re-sent), %d PATCH calls answered or refused; %d injected faults out of %d calls; calls %v; %.1fs wall",
		groups, len(want), patched, resent, st.Calls["groupssettings.groups.patch"], st.Rejected.Injected, sum(st.Calls), st.Calls, took.Seconds())
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
