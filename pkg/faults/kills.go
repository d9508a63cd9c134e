package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/greephq/greep/internal/freeport"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspacesim"
)

// KillCount is how many times Kills kills greep local before the run that must converge:
// the first syncKills while the full sync runs, the others while the remediation run
// patches.
const (
	KillCount = 5
	syncKills = 3
)

// Kills runs the real greep binary (Config.GreepBinary: `greep local` against the
// scenario's simulator, remediate mode) and kills it with SIGKILL at seeded random points
// (Config.KillSeed) of a full sync and of a remediation run, KillCount times, restarting
// it each time on the same --data. Every queued task must survive (the sync finishes,
// every unsafe group is patched), no patch may be applied twice, the store file of each
// killed process must reopen cleanly with what it had committed, and after a clean stop
// the store must equal the truth.
//
// When the run fails (an error or a Problem) its data directory and greep local's log are
// kept: the error, or the Report's KeptIn, says where, and its Log holds the end of the
// log.
func Kills(ctx context.Context, c Config) (_ *Report, err error) {
	c, err = c.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.GreepBinary == "" {
		return nil, errors.New("faults: Config.GreepBinary is required to kill greep local")
	}
	wall := time.Now()
	s, err := startSim(workspacesim.Config{Users: c.Users, Groups: c.Groups, Seed: c.Seed, TimeScale: c.TimeScale})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	tmp, err := os.MkdirTemp(c.TempDir, "greep-faults-kills-work-")
	if err != nil {
		return nil, err
	}
	dataDir, removeData, err := c.dataDir("kills")
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	logPath := filepath.Join(tmp, "greep.log")
	var r *Report
	defer func() {
		if err == nil && len(r.Problems) == 0 {
			removeData()
			os.RemoveAll(tmp)
			return
		}
		if err != nil {
			err = fmt.Errorf("%w\n(data kept in %s; the end of greep local's log, %s:\n%s)", err, dataDir, logPath, tail(logPath))
			return
		}
		r.Log, r.KeptIn = tail(logPath), fmt.Sprintf("data in %s, greep local's log in %s", dataDir, logPath)
	}()

	rulesPath, rc, want, err := remediationSetup(s.Sim, c.RulesFile, tmp)
	if err != nil {
		return nil, err
	}
	queues, err := slowDirectory(c.QueuesFile, tmp)
	if err != nil {
		return nil, err
	}
	syncPaced, err := paced(queues, tasks.QueueDirectorySweep, c.Groups)
	if err != nil {
		return nil, err
	}
	addr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	pc := procConfig{
		bin: c.GreepBinary, workspace: s.URL, admin: s.Sim.Admin(), dataDir: dataDir, addr: addr,
		rules: rulesPath, queues: queues, logPath: logPath, timeScale: c.TimeScale, within: c.wait(syncPaced),
	}
	var procs []*greepProc
	defer func() {
		for _, p := range procs {
			p.kill()
		}
	}()
	start := func() (*greepProc, error) {
		p, err := pc.start(ctx)
		if p != nil {
			procs = append(procs, p)
		}
		return p, err
	}

	r = &Report{Scenario: "kills", TimeScale: c.TimeScale, Remediation: &Remediation{Unsafe: len(want)}, Kills: &KillRun{Seed: c.KillSeed}}
	var probs problems
	rng := rand.New(rand.NewPCG(c.KillSeed, 0))
	// The sync kill delays grow with the tenant as the slowed sync's length does: up to
	// 1 s per 100 groups, so the three of them land inside it at any size.
	size := max(1, float64(c.Groups)/100)
	killed := map[int64]bool{}
	for i := 0; i < KillCount; i++ {
		s.Writes.SetEpoch(int64(i))
		readsAtStart := s.Sim.Stats().Calls["groupssettings.groups.get"]
		p, err := start()
		if err != nil {
			return nil, err
		}
		maxDelay := time.Duration(size * float64(time.Second))
		trigger := "it answered"
		if i >= syncKills {
			// Into the remediation run: the settings sweep has begun reading (a restart
			// resumes the sweep it had, so once every group was read there is no new read
			// to wait for).
			if err := poll(ctx, pc.within, "the settings sweep under way", func() (bool, string) {
				n := s.Sim.Stats().Calls["groupssettings.groups.get"]
				return n > readsAtStart || n >= int64(c.Groups), "no settings read yet"
			}); err != nil {
				return nil, err
			}
			// Up to 600 ms at any size: the settings sweep and its patches are paced by no
			// lane at this time scale, only by the machine, so their length does not grow
			// with the tenant as the delay would (at 1,000 groups on an idle machine, a
			// kill 4.2 s after the first read came after all 303 patches). The work only
			// grows with the tenant, so a delay inside it at 100 groups is inside it at
			// any larger size.
			maxDelay = 600 * time.Millisecond
			trigger = "the settings sweep's first read"
		}
		delay := time.Duration(rng.Int64N(int64(maxDelay)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}

		var st status
		_ = p.get(ctx, "/v1/status", &st)
		committed, err := p.groupIDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing groups before kill %d: %w", i+1, err)
		}
		patched := changedGroups(s.Writes.Writes())
		if err := p.kill(); err != nil {
			return nil, err
		}
		killed[int64(i)] = true

		var phase string
		switch {
		case st.Sync.LastFullSyncAt == nil:
			r.Kills.MidSync++
			phase = fmt.Sprintf("full sync at %d/%d groups", st.Sync.GroupsDone, st.Sync.GroupsTotal)
		case patched < len(want):
			r.Kills.MidRemediation++
			phase = fmt.Sprintf("remediation at %d/%d unsafe groups patched", patched, len(want))
		default:
			phase = "after the remediation run"
		}
		k := Kill{DelayMillis: delay.Milliseconds(), Phase: phase, GroupsServed: len(committed)}
		k.StoreProblems = checkReopens(ctx, filepath.Join(dataDir, "greep.db"), committed)
		for _, sp := range k.StoreProblems {
			probs.add("store after kill %d: %s", i+1, sp)
		}
		r.Kills.Kills = append(r.Kills.Kills, k)
		c.Logf("kill %d, %v after %s: %s; %d groups served (%.1fs in); store reopened with %d problems",
			i+1, delay.Round(time.Millisecond), trigger, phase, len(committed), time.Since(wall).Seconds(), len(k.StoreProblems))
	}
	if r.Kills.MidSync == 0 || r.Kills.MidRemediation == 0 {
		probs.add("kills: %d mid-sync, %d mid-remediation; want both", r.Kills.MidSync, r.Kills.MidRemediation)
	}

	// The last run must finish everything the killed ones left queued.
	s.Writes.SetEpoch(KillCount)
	p, err := start()
	if err != nil {
		return nil, err
	}
	quiet := 0
	if err := poll(ctx, pc.within, "convergence after the kills", func() (bool, string) {
		var st status
		if err := p.get(ctx, "/v1/status", &st); err != nil {
			return false, err.Error()
		}
		if st.Sync.LastFullSyncAt == nil || st.Sync.State != "idle" {
			quiet = 0
			return false, fmt.Sprintf("sync %s at %d/%d", st.Sync.State, st.Sync.GroupsDone, st.Sync.GroupsTotal)
		}
		left, err := unsafeNow(s.Sim, rc)
		if err != nil {
			return false, err.Error()
		}
		if len(left) > 0 {
			quiet = 0
			return false, fmt.Sprintf("%d groups still unsafe", len(left))
		}
		for name, q := range st.Queues {
			if q.Backlog > 0 {
				quiet = 0
				return false, name + " has a backlog"
			}
		}
		quiet++
		return quiet >= 10, "queues empty for a moment only"
	}); err != nil {
		return nil, err
	}
	r.Kills.ConvergedSeconds = seconds(time.Since(wall))
	if err := p.stop(); err != nil {
		probs.add("greep local after SIGINT: %v", err)
	}
	r.WallSeconds = seconds(time.Since(wall))
	c.Logf("converged %.1fs in, stopped at %.1fs", r.Kills.ConvergedSeconds, r.WallSeconds)

	st := s.Sim.Stats()
	r.calls(st)
	r.Remediation.PatchCalls = st.Calls["groupssettings.groups.patch"]
	truth, err := s.Sim.Truth("")
	if err != nil {
		return nil, err
	}
	r.tenant(truth)
	pr := patchReport(want, s.Writes.Writes(), killed, false, &probs)
	r.Remediation.Patched, r.Remediation.ResentAfterKill, r.Remediation.ResentWithinRun = pr.patched, pr.resentAfterKill, pr.resent

	store, err := bolt.Open(filepath.Join(dataDir, "greep.db"))
	if err != nil {
		probs.add("the store after a clean stop does not open: %v", err)
		r.Problems = probs.list()
		return r, nil
	}
	defer store.Close()
	if r.Differences, err = truthdiff.Diff(ctx, store, truth, 10); err != nil {
		return nil, err
	}
	r.CacheEqualsTruth = len(r.Differences) == 0
	if !r.CacheEqualsTruth {
		probs.add("the store after the kills differs from the truth: %s", describe(r.Differences))
	}
	if r.Remediation.Fixed, err = checkFixed(ctx, store, want, &probs); err != nil {
		return nil, err
	}
	r.Problems = probs.list()
	c.Logf("%d groups, %d unsafe: %d patched; patches re-sent changing nothing: %d after a kill, %d within a run; %d kills (%d mid-sync, %d mid-remediation); calls %v; %.1fs wall",
		c.Groups, len(want), pr.patched, pr.resentAfterKill, pr.resent, KillCount, r.Kills.MidSync, r.Kills.MidRemediation, st.Calls, r.WallSeconds)
	return r, nil
}

// slowDirectory writes a copy of queues.yaml whose Directory short window is 200 times
// smaller, so the full sync lasts seconds even on an idle machine at the default time
// scale and the sync kills land inside it rather than after it (on an idle machine the
// shipped rates finish 100 groups within the first kill's delay).
func slowDirectory(path, dir string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	const from, to = "  directory:\n    shortWindow: {limit: 2400, per: 1m}", "  directory:\n    shortWindow: {limit: 12, per: 1m}"
	if !bytes.Contains(b, []byte(from)) {
		return "", fmt.Errorf("%s no longer holds %q; update pkg/faults", path, from)
	}
	slow := filepath.Join(dir, "queues.yaml")
	if err := os.WriteFile(slow, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644); err != nil {
		return "", err
	}
	return slow, nil
}
