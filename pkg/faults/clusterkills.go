package faults

import (
	"context"
	"fmt"
	"time"
)

// ClusterKills runs the fault scenarios against greep cluster, in remediate mode: the
// directory service SIGKILLed and restarted mid-sync, the Datastore emulator restarted
// after the sync, then, in the settings sweep started by its cron URL, the groupssettings
// service SIGKILLed at its first read and at its first patch and the remediation service
// once; each restarted at once, on the same port, as App Engine starts a new instance.
// The tasks the killed processes held are retried by the Cloud Tasks emulator; with
// ClusterConfig.DeliverTwice every task is delivered twice besides. Every unsafe group
// must be patched exactly once, the sync finish, the cache equal the truth, and no queue
// give a task up.
func ClusterKills(ctx context.Context, c ClusterConfig) (_ *Report, err error) {
	wall := time.Now()
	run, err := startClusterRun(ctx, c, "cluster-kills", func(run *clusterRun) (map[string]string, error) {
		rulesPath, rc, want, err := remediationSetup(run.s.Sim, run.c.RulesFile, run.work)
		if err != nil {
			return nil, err
		}
		run.want, run.rules = want, rc
		return map[string]string{"GREEP_RULES": rulesPath, "GREEP_REMEDIATION": "remediate", "GREEP_DEBOUNCE": "30s"}, nil
	})
	if err != nil {
		return nil, err
	}
	defer func() { run.close(err != nil || (run.r != nil && len(run.r.Problems) > 0)) }()
	if c.DatastoreHost != "" {
		return nil, fmt.Errorf("faults: ClusterKills restarts the Datastore emulator, so it starts its own: leave DatastoreHost empty")
	}
	s := run.s
	r := run.r
	r.Remediation = &Remediation{Unsafe: len(run.want)}
	r.Kills = &KillRun{}

	epoch := int64(0)
	killed := map[int64]bool{}
	calls := func(method string) int64 { return s.Sim.Stats().Calls[method] }
	// after waits until method was called more than n times.
	after := func(what, method string, n int64) error {
		return poll(ctx, run.within, what, func() (bool, string) {
			got := calls(method)
			return got > n, fmt.Sprintf("%d %s calls", got, method)
		})
	}
	restart := func(service, phase string, start time.Time) error {
		if err := run.cl.Kill(service); err != nil {
			return err
		}
		killed[epoch] = true
		epoch++
		s.Writes.SetEpoch(epoch)
		k := Kill{DelayMillis: time.Since(start).Milliseconds(), Phase: service + " killed during " + phase}
		r.Kills.Kills = append(r.Kills.Kills, k)
		run.c.Logf("%s (%.1fs in)", k.Phase, time.Since(wall).Seconds())
		return run.cl.Restart(ctx, service)
	}
	syncPhase := func() string {
		st, err := run.status(ctx)
		if err != nil {
			return "the full sync"
		}
		if st.Sync.LastFullSyncAt != nil {
			return "the time after the full sync"
		}
		r.Kills.MidSync++
		return fmt.Sprintf("the full sync at %d/%d groups", st.Sync.GroupsDone, st.Sync.GroupsTotal)
	}

	// Mid-sync: the directory service, once members are being read. Should the cron
	// run at start have failed (the emulator slow to answer), the next tick starts the sync.
	run.lastTick = time.Now()
	if err := poll(ctx, run.within, "the full sync reading members", func() (bool, string) {
		if calls("directory.members.list") > 0 {
			return true, ""
		}
		run.tick(ctx)
		return false, "no members.list call yet"
	}); err != nil {
		return nil, err
	}
	if err := restart("directory", syncPhase(), wall); err != nil {
		return nil, err
	}
	if err := run.waitSyncedTicking(ctx); err != nil {
		return nil, err
	}
	run.run.SyncSeconds = seconds(time.Since(wall))

	// Then the Datastore emulator, restarted between the sync and the remediation run: the
	// restart keeps the export taken before the stop, so a restart mid-sync would lose the
	// commits made after it, which Datastore never does (docs/cluster.md). With the queues
	// empty, nothing is being committed.
	if err := run.quiet(ctx, "the queues after the sync", nil); err != nil {
		return nil, err
	}
	if err := run.cl.RestartDatastore(ctx); err != nil {
		return nil, err
	}
	run.run.DatastoreRestarts++
	run.c.Logf("Datastore emulator restarted after the sync (%.1fs in)", time.Since(wall).Seconds())

	// The settings sweep, as its cron job starts it.
	sweep := time.Now()
	if err := run.cl.Cron(ctx, "/cron/remediation/sweep"); err != nil {
		return nil, err
	}
	remediationPhase := func() string {
		patched := changedGroups(s.Writes.Writes())
		if patched < len(run.want) {
			r.Kills.MidRemediation++
			return fmt.Sprintf("remediation at %d/%d unsafe groups patched", patched, len(run.want))
		}
		return "the time after the remediation run"
	}
	if err := after("the settings sweep reading", "groupssettings.groups.get", 0); err != nil {
		return nil, err
	}
	if err := restart("groupssettings", remediationPhase(), sweep); err != nil {
		return nil, err
	}
	if err := after("the first patch", "groupssettings.groups.patch", 0); err != nil {
		return nil, err
	}
	if err := restart("groupssettings", remediationPhase(), sweep); err != nil {
		return nil, err
	}
	if err := restart("remediation", remediationPhase(), sweep); err != nil {
		return nil, err
	}

	if err := run.quiet(ctx, "convergence after the kills", func() (bool, string) {
		st, err := run.status(ctx)
		if err != nil {
			return false, err.Error()
		}
		if st.Sync.State != "idle" {
			run.tick(ctx)
			return false, "sync " + st.Sync.State
		}
		left, err := unsafeNow(s.Sim, run.rules)
		if err != nil {
			return false, err.Error()
		}
		if len(left) > 0 {
			return false, fmt.Sprintf("%d groups still unsafe", len(left))
		}
		return true, ""
	}); err != nil {
		return nil, err
	}
	r.Kills.ConvergedSeconds = seconds(time.Since(wall))
	if r.Kills.MidSync == 0 || r.Kills.MidRemediation == 0 {
		run.probs.add("kills: %d mid-sync, %d mid-remediation; want both", r.Kills.MidSync, r.Kills.MidRemediation)
	}
	pr := patchReport(run.want, s.Writes.Writes(), killed, run.c.DeliverTwice, &run.probs)
	r.Remediation.Patched, r.Remediation.ResentAfterKill, r.Remediation.ResentWithinRun = pr.patched, pr.resentAfterKill, pr.resent
	r.Remediation.PatchCalls = calls("groupssettings.groups.patch")
	if err := run.finish(ctx); err != nil {
		return nil, err
	}
	r.WallSeconds = seconds(time.Since(wall))
	r.Cluster = run.run
	r.Problems = run.probs.list()
	run.c.Logf("%d groups, %d unsafe: %d patched; re-sent %d after a kill, %d within a run; %d kills (%d mid-sync, %d mid-remediation), %d Datastore restarts; %.1fs wall",
		r.Groups, len(run.want), pr.patched, pr.resentAfterKill, pr.resent, len(r.Kills.Kills), r.Kills.MidSync, r.Kills.MidRemediation, run.run.DatastoreRestarts, r.WallSeconds)
	return r, nil
}

// resyncTick is how often the scenario plays the directory's resync cron job while a sweep
// has not finished: in production it runs hourly, and the tick that finds a sweep unmoved
// since the one before recounts it and re-issues its lost work (a count or tasks lost to
// a kill); the scenario's minutes stand for those hours.
const resyncTick = 15 * time.Second

// tick runs the resync cron job when resyncTick passed since the last one.
func (run *clusterRun) tick(ctx context.Context) {
	if time.Since(run.lastTick) < resyncTick {
		return
	}
	run.lastTick = time.Now()
	run.run.ResyncTicks++
	if err := run.cl.Cron(ctx, "/cron/directory/resync"); err != nil {
		run.c.Logf("resync tick: %v", err)
	}
}

// waitSyncedTicking waits for the first full sync to end, playing the resync cron.
func (run *clusterRun) waitSyncedTicking(ctx context.Context) error {
	if run.lastTick.IsZero() {
		run.lastTick = time.Now()
	}
	return poll(ctx, run.within, "the full sync after the kills", func() (bool, string) {
		st, err := run.status(ctx)
		if err != nil {
			return false, err.Error()
		}
		if st.Sync.LastFullSyncAt == nil || st.Sync.State != "idle" {
			run.tick(ctx)
			return false, fmt.Sprintf("sync %q at %d/%d", st.Sync.State, st.Sync.GroupsDone, st.Sync.GroupsTotal)
		}
		return true, ""
	})
}
