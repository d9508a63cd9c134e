package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// duringSync paces the during-sync scenario. The debounce is shorter than the 2-minute
// default so that, at the default size, a change's whole path (debounce, refresh) fits
// many times inside one full sync; every figure is reported next to it.
var duringSync = struct {
	debounce time.Duration
	every    time.Duration // simulated time between two changes
}{debounce: 15 * time.Second, every: 5 * time.Second}

// DuringSync runs a full sync of a generated tenant with push on and, while it runs,
// adds a member to a group the sync has already read, every few simulated seconds. Only
// the push path can show those changes before the next sweep, so their freshness (change
// to visible in the cache) against the sync's length shows whether push work waits
// behind the sweep (design rule 5): it should be the debounce plus seconds, however long
// the sync.
func DuringSync(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 20
	}
	e, err := startEnv(ctx, o, workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale}, func(c *local.Config) {
		c.NoRemediation = true
		c.NoInitialSync = true
		c.Debounce = duringSync.debounce
	})
	if err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.waitChannels(ctx, 2, time.Minute); err != nil {
		return nil, err
	}
	truth, err := e.sim.Truth("")
	if err != nil {
		return nil, err
	}
	before := e.sim.Stats()
	syncStart := e.sim.Now()
	if _, err := e.app.Directory.StartFullSync(ctx); err != nil {
		return nil, err
	}

	w := newWatcher(e.store, e.sim.Now, o.TimeScale)
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); w.run(wctx) }()
	defer func() { stopWatch(); <-watched }()

	rng := rand.New(rand.NewPCG(uint64(o.Seed), 5))
	queue := rng.Perm(len(truth.Groups))
	var issued, refused int
	var maxSweepBacklog, maxPushBacklog int64
	for {
		_, s, err := e.app.Directory.Progress(ctx)
		if err != nil {
			return nil, err
		}
		if s.Generation > 0 && !s.Running() {
			break
		}
		qs := e.app.Dispatcher.Stats()
		maxSweepBacklog = max(maxSweepBacklog, qs[tasks.QueueDirectorySweep].Backlog)
		maxPushBacklog = max(maxPushBacklog, qs[tasks.QueueDirectory].Backlog)
		// A group the sync has read: only push can show a change to it now. One not
		// read yet goes to the back of the queue.
		for tries := 0; tries < 50 && len(queue) > 0; tries++ {
			i := queue[0]
			queue = queue[1:]
			g := truth.Groups[i]
			if cached, err := e.store.Group(ctx, g.ID); err != nil || cached.MembersSyncedAt.IsZero() {
				queue = append(queue, i)
				continue
			}
			m := fmt.Sprintf("during-sync-%d@outside.example", issued)
			refused += w.apply(e.sim, []workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: m}},
				[]change{{groupID: g.ID, groupEmail: g.Email, member: m}})
			issued++
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(float64(duringSync.every) / o.TimeScale)):
		}
	}
	syncSeconds := e.sim.Now().Sub(syncStart).Seconds()
	// Push and sweep calls alike: both spend the window the sync's length is judged by.
	syncCalls := apiCalls(delta(before, e.sim.Stats()).calls, workspacesim.APIDirectory)
	stopWatch()
	<-watched
	// Changes made near the end of the sync still need their debounce.
	w.drain(ctx, time.Duration(float64(duringSync.debounce+5*time.Minute)/o.TimeScale)+10*time.Second)
	fresh, _, err := w.result()
	if err != nil {
		return nil, err
	}

	res := &Result{Scenario: "during-sync", TimeScale: o.TimeScale, Freshness: fresh}
	res.AcceptedToVisible, _, res.AcceptedToVisibleWall = w.acceptedResult()
	e.fillCalls(res, delta(before, e.sim.Stats()))
	if err := e.tenantFigures(ctx, res); err != nil {
		return nil, err
	}
	res.Figures = map[string]any{
		"syncSimulatedSeconds": round(syncSeconds),
		"debounceSeconds":      duringSync.debounce.Seconds(),
		"changesDuringSync":    issued,
		"changesRefused":       refused,
		"maxSweepBacklog":      maxSweepBacklog,
		"maxPushBacklog":       maxPushBacklog,
	}
	if syncSeconds > 0 {
		res.Figures["p95OverSyncLength"] = round(fresh.P95 / syncSeconds)
	}
	if ratio, ok := wallRatio(syncSeconds, syncCalls, usableRate(e.app.Queues, workspacesim.APIDirectory)); ok {
		res.Figures["wallRatio"] = ratio
	}
	return res, nil
}
