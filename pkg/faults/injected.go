package faults

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspacesim"
)

// simServer is a simulator the scenario owns (so it outlives a killed Greep), served
// through a recorder of settings writes.
type simServer struct {
	URL    string
	Sim    *workspacesim.Sim
	Writes *WriteLog
	srv    *httptest.Server
}

func startSim(cfg workspacesim.Config) (*simServer, error) {
	sim, err := workspacesim.New(cfg)
	if err != nil {
		return nil, err
	}
	w := NewWriteLog(sim, sim)
	srv := httptest.NewServer(w)
	return &simServer{URL: srv.URL, Sim: sim, Writes: w, srv: srv}, nil
}

func (s *simServer) Close() {
	s.srv.Close()
	s.Sim.Close()
}

// localConfig is greep local as a library against the scenario's simulator.
func (c Config) localConfig(s *simServer, dataDir string) local.Config {
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.APIToken = "faults-token"
	cfg.Workspace = s.URL
	cfg.SimClock = s.Sim.Now
	cfg.AdminSubject = s.Sim.Admin()
	cfg.TimeScale = c.TimeScale
	cfg.QueuesFile = c.QueuesFile
	cfg.ResyncEvery = 0
	cfg.NoPush, cfg.NoRemediation = true, true
	return cfg
}

// paced is the simulated time one call a group takes on the named lane of the queues
// file at its rate: the least a sweep over the tenant can last.
func paced(queuesFile, lane string, groups int) (time.Duration, error) {
	q, err := queueconfig.Load(queuesFile)
	if err != nil {
		return 0, err
	}
	l, ok := q.Lane(lane)
	if !ok || l.RatePerSecond() <= 0 {
		return 0, fmt.Errorf("%s: no lane %s with a rate", queuesFile, lane)
	}
	return time.Duration(float64(groups) / l.RatePerSecond() * float64(time.Second)), nil
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

// settled waits until the sweep is finished, want holds, and the queues stayed empty for
// several looks in a row (a task that just ran may queue the next).
func settled(ctx context.Context, within time.Duration, app *local.App, want func() (bool, string)) error {
	quiet := 0
	return poll(ctx, within, "a settled cache", func() (bool, string) {
		_, sw, err := app.Directory.Progress(ctx)
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

// InjectedErrors runs a full sync and a remediation run (remediate mode, the shipped
// rules with a run cap above the tenant's size) with 10% of API calls failing (4% 429
// rateLimitExceeded, 3% 500 and 3% 503 backendError) and 5% answered after 100 ms. The
// cache must end equal to the truth, every unsafe group's settings changed exactly once,
// no safe group's changed, no patch answered 2xx twice, and each patched group have a
// fixed finding.
func InjectedErrors(ctx context.Context, c Config) (*Report, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	wall := time.Now()
	faults := workspacesim.Faults{RateLimited: 0.04, InternalError: 0.03, Unavailable: 0.03, Slow: 0.05, SlowDelay: 100 * time.Millisecond}
	s, err := startSim(workspacesim.Config{Users: c.Users, Groups: c.Groups, Seed: c.Seed, TimeScale: c.TimeScale, Faults: faults})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	tmp, err := os.MkdirTemp(c.TempDir, "greep-faults-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rulesPath, rc, want, err := remediationSetup(s.Sim, c.RulesFile, tmp)
	if err != nil {
		return nil, err
	}
	sweep, err := paced(c.QueuesFile, tasks.QueueDirectorySweep, c.Groups)
	if err != nil {
		return nil, err
	}

	dir, removeDir, err := c.dataDir("injected")
	if err != nil {
		return nil, err
	}
	defer removeDir()
	cfg := c.localConfig(s, dir)
	cfg.NoRemediation, cfg.Rules, cfg.Remediation = false, rulesPath, "remediate"
	app, err := local.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer app.Close(context.Background())

	if err := settled(ctx, c.wait(sweep), app, func() (bool, string) {
		left, err := unsafeNow(s.Sim, rc)
		if err != nil {
			return false, err.Error()
		}
		return len(left) == 0, fmt.Sprintf("%d groups still unsafe: %s", len(left), strings.Join(sortedKeys(left, 5), ", "))
	}); err != nil {
		return nil, err
	}
	took := time.Since(wall)

	r := &Report{Scenario: "injectedErrors", TimeScale: c.TimeScale, Remediation: &Remediation{Unsafe: len(want)}}
	var probs problems
	truth, err := s.Sim.Truth("")
	if err != nil {
		return nil, err
	}
	r.tenant(truth)
	if r.Differences, err = truthdiff.Diff(ctx, app.Store, truth, 10); err != nil {
		return nil, err
	}
	r.CacheEqualsTruth = len(r.Differences) == 0
	if !r.CacheEqualsTruth {
		probs.add("cache differs from the truth: %s", describe(r.Differences))
	}
	p := patchReport(want, s.Writes.Writes(), nil, false, &probs)
	r.Remediation.Patched, r.Remediation.ResentWithinRun = p.patched, p.resent
	if r.Remediation.Fixed, err = checkFixed(ctx, app.Store, want, &probs); err != nil {
		return nil, err
	}
	if r.Remediation.Fixed != len(want) {
		probs.add("%d groups have fixed findings, %d were patched", r.Remediation.Fixed, len(want))
	}
	st := s.Sim.Stats()
	r.calls(st)
	r.Remediation.PatchCalls = st.Calls["groupssettings.groups.patch"]
	if st.Rejected.Injected == 0 {
		probs.add("no fault was injected: the scenario proved nothing")
	}
	r.WallSeconds = seconds(took)
	r.Problems = probs.list()
	c.Logf("%d groups, %d unsafe: %d patched, %d PATCH calls answered or refused; %d injected faults out of %d calls; calls %v; %.1fs wall",
		c.Groups, len(want), p.patched, r.Remediation.PatchCalls, r.InjectedFaults, r.TotalCalls, st.Calls, took.Seconds())
	return r, nil
}

// sortedKeys returns up to n of m's keys, sorted.
func sortedKeys(m map[string]bool, n int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) > n {
		out = append(out[:n], fmt.Sprintf("and %d more", len(out)-n))
	}
	return out
}
