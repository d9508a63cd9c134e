package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// pushBursts shapes the push scenario: bursts of events, each spread over less than the
// debounce window (2 minutes, greep local's default) and over a few groups.
var pushBursts = struct {
	bursts, events, groups int
	spread                 time.Duration // simulated time the events of a burst take
	chunks                 int           // the events arrive in this many batches
}{bursts: 3, events: 1000, groups: 50, spread: time.Minute, chunks: 20}

// Push sends bursts of membership changes through the whole push path (simulator
// activities, watch channels, webhook, debounced refresh, directory worker) of a
// greep local with the default debounce and no resync, so every Directory call after
// the initial sync is caused by the events. It reports the refreshes (members.list
// calls) per event and the freshness of each change; the naive way refreshes the group
// on every event, on its own simulator of the same tenant with the same changes.
func Push(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 60
	}
	sc := workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale}
	e, err := startEnv(ctx, o, sc, func(c *local.Config) { c.NoRemediation = true })
	if err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.waitChannels(ctx, 2, time.Minute); err != nil {
		return nil, err
	}
	if err := waitFinished(ctx, e.app); err != nil {
		return nil, err
	}
	truth, err := e.sim.Truth("")
	if err != nil {
		return nil, err
	}
	plan := burstPlan(truth, o.Seed)

	w := newWatcher(e.store, e.sim.Now, o.TimeScale)
	// Polled all along, not only between bursts: a change shows provisionally for the
	// debounce only, then as confirmed.
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); w.run(wctx) }()
	defer func() { stopWatch(); <-watched }()
	before := e.sim.Stats()
	var refused int
	// spreads is how long each burst took to make, in simulated time: a burst longer
	// than the debounce opens a second window for its groups.
	var spreads []float64
	for b, burst := range plan {
		burstStart := e.sim.Now()
		for c := 0; c < pushBursts.chunks; c++ {
			lo, hi := c*len(burst)/pushBursts.chunks, (c+1)*len(burst)/pushBursts.chunks
			muts, changes := make([]workspacesim.Mutation, 0, hi-lo), make([]change, 0, hi-lo)
			for _, ev := range burst[lo:hi] {
				muts = append(muts, workspacesim.Mutation{Op: "addMember", Group: ev.group.Email, Member: ev.member})
				changes = append(changes, change{groupID: ev.group.ID, groupEmail: ev.group.Email, member: ev.member})
			}
			refused += w.apply(e.sim, muts, changes)
			if err := sleepSim(ctx, pushBursts.spread/time.Duration(pushBursts.chunks), o.TimeScale); err != nil {
				return nil, err
			}
		}
		spreads = append(spreads, round(e.sim.Now().Sub(burstStart).Seconds()))
		// Every change of the burst visible, and the refreshes done (a re-poll would
		// still be counted).
		w.drain(ctx, time.Duration(float64(10*time.Minute)/o.TimeScale)+10*time.Second)
		if n := w.pendingCount(); n > 0 {
			return nil, fmt.Errorf("burst %d: %d changes not in the cache after 10 simulated minutes", b+1, n)
		}
		if err := waitUntil(ctx, time.Minute, "an idle push queue", func() (bool, error) {
			return e.app.Dispatcher.Stats()[tasks.QueueDirectory].Backlog == 0, nil
		}); err != nil {
			return nil, err
		}
	}
	fresh, _, err := w.result()
	if err != nil {
		return nil, err
	}
	d := delta(before, e.sim.Stats())
	res := &Result{Scenario: "push", TimeScale: o.TimeScale, Freshness: fresh}
	res.AcceptedToVisible, _, res.AcceptedToVisibleWall = w.acceptedResult()
	e.fillCalls(res, d)
	if err := e.tenantFigures(ctx, res); err != nil {
		return nil, err
	}
	events := int64(fresh.Changes)
	res.Figures = pushFigures(d.calls, events, len(plan))
	res.Figures["changesRefused"] = refused
	res.Figures["debounceSeconds"] = local.Defaults().Debounce.Seconds()
	res.Figures["groupsPerBurst"] = min(pushBursts.groups, len(truth.Groups))
	res.Figures["pushesDelivered"] = d.pushes
	res.Figures["burstSimulatedSeconds"] = spreads
	maps.Copy(res.Figures, w.provisionalFigures())

	if o.NaiveTimeScale > 0 {
		if res.Naive, err = naivePush(ctx, o, plan); err != nil {
			return nil, fmt.Errorf("naive push: %w", err)
		}
	}
	sameTenant(res)
	return res, nil
}

func pushFigures(calls map[string]int64, events int64, bursts int) map[string]any {
	refreshes := calls["directory.members.list"]
	f := map[string]any{
		"bursts": bursts, "events": events, "refreshes": refreshes,
		"directoryCalls": apiCalls(calls, workspacesim.APIDirectory),
	}
	if events > 0 {
		f["refreshesPerEvent"] = round4(float64(refreshes) / float64(events))
		f["directoryCallsPerEvent"] = round4(float64(apiCalls(calls, workspacesim.APIDirectory)) / float64(events))
	}
	return f
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }

type burstEvent struct {
	group  workspacesim.TruthGroup
	member string
}

// burstPlan draws each burst's groups and spreads its events over them in turn.
func burstPlan(truth workspacesim.Truth, seed int64) [][]burstEvent {
	rng := rand.New(rand.NewPCG(uint64(seed), 6))
	n := min(pushBursts.groups, len(truth.Groups))
	plan := make([][]burstEvent, pushBursts.bursts)
	for b := range plan {
		perm := rng.Perm(len(truth.Groups))[:n]
		for i := 0; i < pushBursts.events; i++ {
			g := truth.Groups[perm[i%n]]
			plan[b] = append(plan[b], burstEvent{group: g, member: fmt.Sprintf("burst%d-%d@outside.example", b+1, i)})
		}
	}
	return plan
}

// sleepSim sleeps d of simulated time.
func sleepSim(ctx context.Context, d time.Duration, scale float64) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(float64(d) / scale)):
		return nil
	}
}

// naivePush is the way without a debounce: every event makes the consumer list the
// group's members at once (every page), on its own simulator of the same tenant. The
// change shows as soon as that call answers; the cost is one refresh per event.
func naivePush(ctx context.Context, o Options, plan [][]burstEvent) (*Result, error) {
	srv, err := workspacesim.Start(workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
	if err != nil {
		return nil, err
	}
	wall, before := time.Now(), srv.Sim.Stats()
	var lags []time.Duration
	for _, burst := range plan {
		for c := 0; c < pushBursts.chunks; c++ {
			lo, hi := c*len(burst)/pushBursts.chunks, (c+1)*len(burst)/pushBursts.chunks
			for _, ev := range burst[lo:hi] {
				at := srv.Sim.Now()
				if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: ev.group.Email, Member: ev.member}}); err != nil {
					continue
				}
				if err := listAll(ctx, clients, ev.group.ID, o.TimeScale); err != nil {
					return nil, err
				}
				lags = append(lags, srv.Sim.Now().Sub(at))
			}
			if err := sleepSim(ctx, pushBursts.spread/time.Duration(pushBursts.chunks), o.TimeScale); err != nil {
				return nil, err
			}
		}
	}
	d := delta(before, srv.Sim.Stats())
	n := &Result{Scenario: "naive-push", TimeScale: o.TimeScale, Freshness: freshnessOf(lags, 0),
		Calls: d.calls, QuotaErrors: d.rateLimit + d.dailyLimit,
		SimulatedSeconds: round(d.simDuration.Seconds()), WallSeconds: round(time.Since(wall).Seconds())}
	n.Figures = pushFigures(d.calls, int64(len(lags)), len(plan))
	return n, nil
}

// listAll lists a group's members, every page, waiting out a refused call as a careful
// client would (a simulated second per refusal).
func listAll(ctx context.Context, clients *workspace.Clients, groupID string, scale float64) error {
	tok := ""
	for {
		r, err := clients.Directory.Members.List(groupID).MaxResults(200).PageToken(tok).Context(ctx).Do()
		var ge *googleapi.Error
		if errors.As(err, &ge) && (ge.Code == 429 || ge.Code == 403 && len(ge.Errors) > 0 && ge.Errors[0].Reason == "userRateLimitExceeded") {
			if err := sleepSim(ctx, time.Second, scale); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if tok = r.NextPageToken; tok == "" {
			return nil
		}
	}
}
