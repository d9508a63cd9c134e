package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspacesim"
)

// DroppedPushes loses 20% of push notifications while the tenant changes (Config.Changes
// changes, one group each, in batches while the previous batches' pushes are handled).
// Once every notification is delivered or dropped, the groups that differ from the truth
// must be some (else nothing was proved) and never more than the notifications lost; the
// next resync (groups.list against the cache's etags) must bring the cache back to the
// truth.
func DroppedPushes(ctx context.Context, c Config) (*Report, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.Changes > c.Groups {
		return nil, fmt.Errorf("faults: %d changes for %d groups: one change a group at most", c.Changes, c.Groups)
	}
	wall := time.Now()
	s, err := startSim(workspacesim.Config{Users: c.Users, Groups: c.Groups, Seed: c.Seed, TimeScale: c.TimeScale, DropRate: 0.2})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	sweep, err := paced(c.QueuesFile, tasks.QueueDirectorySweep, c.Groups)
	if err != nil {
		return nil, err
	}
	within := c.wait(sweep)
	dir, removeDir, err := c.dataDir("dropped")
	if err != nil {
		return nil, err
	}
	defer removeDir()
	cfg := c.localConfig(s, dir)
	cfg.NoPush = false
	cfg.Debounce = 30 * time.Second
	// The reports cron's reconciliation lists what push lost within the hour, which is
	// 18 wall seconds here: off, so the scenario measures what the resync repairs.
	cfg.ReconcileEvery = -1
	app, err := local.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer app.Close(context.Background())

	if err := poll(ctx, within, "the full sync and the watch channels", func() (bool, string) {
		_, sw, err := app.Directory.Progress(ctx)
		if err != nil {
			return false, err.Error()
		}
		st := s.Sim.Stats()
		return sw.Generation > 0 && !sw.Running() && st.Channels >= 1, fmt.Sprintf("sweep %+v, %d channels", sw, st.Channels)
	}); err != nil {
		return nil, err
	}
	synced, err := app.Directory.Sweep(ctx)
	if err != nil {
		return nil, err
	}
	pushedBefore := s.Sim.Stats().Pushes

	// One change per group (so a lost notification is a group the cache gets wrong), in
	// batches, while the pushes of the previous batches are being handled.
	truth, err := s.Sim.Truth("")
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(c.Seed), 9))
	order := rng.Perm(len(truth.Groups))
	var muts []workspacesim.Mutation
	for i := 0; i < c.Changes; i++ {
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
			return nil, err
		}
		muts = muts[n:]
		time.Sleep(30 * time.Millisecond)
	}

	// Every notification delivered or dropped, every refresh done.
	var last workspacesim.PushStats
	quiet := 0
	if err := poll(ctx, within, "the pushes handled", func() (bool, string) {
		p := s.Sim.Stats().Pushes
		empty, why := idle(app)
		if p != last || !empty {
			last, quiet = p, 0
			return false, fmt.Sprintf("pushes %+v; %s", p, why)
		}
		quiet++
		return quiet >= 20, "settling"
	}); err != nil {
		return nil, err
	}
	r := &Report{Scenario: "droppedPushes", TimeScale: c.TimeScale, Pushes: &Pushes{
		Changes:   c.Changes,
		Delivered: last.Delivered - pushedBefore.Delivered,
		Dropped:   last.Dropped - pushedBefore.Dropped,
	}}
	var probs problems
	if r.Pushes.Dropped == 0 {
		probs.add("no notification was dropped (%+v): the scenario proved nothing", last)
	}
	diffs, err := diffNow(ctx, c, app, s.Sim, max(1000, 4*c.Changes))
	if err != nil {
		return nil, err
	}
	// Each stale group is one whose change went unnoticed: never more than were lost.
	stale := groupsIn(diffs)
	r.Pushes.StaleBeforeResync = len(stale)
	switch {
	case r.Pushes.Dropped > 0 && len(stale) == 0:
		probs.add("%d notifications dropped yet no group is stale: the scenario proved nothing", r.Pushes.Dropped)
	case int64(len(stale)) > r.Pushes.Dropped:
		probs.add("%d groups differ from the truth with %d notifications lost: %s", len(stale), r.Pushes.Dropped, describe(diffs))
	}
	c.Logf("%d changes, %d notifications delivered, %d dropped: %d groups stale before the resync", c.Changes, r.Pushes.Delivered, r.Pushes.Dropped, len(stale))

	before := s.Sim.Stats()
	started, err := app.Directory.StartResync(ctx)
	if err != nil || !started {
		return nil, fmt.Errorf("starting the resync: %v (started %v)", err, started)
	}
	if err := poll(ctx, within, "the resync", func() (bool, string) {
		sw, err := app.Directory.Sweep(ctx)
		if err != nil {
			return false, err.Error()
		}
		return sw.Generation > synced.Generation && !sw.Running(), fmt.Sprintf("sweep %+v", sw)
	}); err != nil {
		return nil, err
	}
	// The resync's refreshes may still be landing when its sweep reports done.
	if err := poll(ctx, within, "the cache equal to the truth after the resync", func() (bool, string) {
		if diffs, err = diffNow(ctx, c, app, s.Sim, 10); err != nil {
			return false, err.Error()
		}
		return len(diffs) == 0, describe(diffs)
	}); err != nil {
		return nil, err
	}
	after := s.Sim.Stats()
	r.Pushes.ResyncCalls = map[string]int64{}
	for _, m := range []string{"directory.groups.list", "directory.groups.get", "directory.members.list"} {
		r.Pushes.ResyncCalls[m] = after.Calls[m] - before.Calls[m]
	}
	r.Differences, r.CacheEqualsTruth = diffs, len(diffs) == 0
	r.calls(after)
	r.tenant(truth) // the generated tenant, before the changes
	r.WallSeconds = seconds(time.Since(wall))
	r.Problems = probs.list()
	c.Logf("resync: %v calls; %.1fs wall in all", r.Pushes.ResyncCalls, r.WallSeconds)
	return r, nil
}

// diffNow compares the App's cache with the simulator's truth now.
func diffNow(ctx context.Context, c Config, app *local.App, sim *workspacesim.Sim, max int) ([]string, error) {
	truth, err := sim.Truth("")
	if err != nil {
		return nil, err
	}
	return truthdiff.Diff(ctx, app.Store, truth, max)
}

func otherRole(r string) string {
	if r == "MANAGER" {
		return "MEMBER"
	}
	return "MANAGER"
}
