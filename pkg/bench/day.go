package bench

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// daySpec shapes the day scenario: the changes a tenant sees in a day, the warm-up
// before the day (initial sync and first settings sweep), the naive poller's period, and
// the length of the day (a whole one; tests shorten it).
var daySpec = struct {
	memberChanges, settingsChanges int
	warmup, naivePeriod, length    time.Duration
}{memberChanges: 2000, settingsChanges: 50, warmup: 6 * time.Hour, naivePeriod: 10 * time.Minute, length: 24 * time.Hour}

// dayStart is the measured day: a quota day (midnight to midnight Pacific, when Google
// resets per-day quotas), away from a daylight-saving change.
func dayStart() time.Time {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		// Without the zone database, the fixed offset of that date (PST) is the same day.
		la = time.FixedZone("PST", -8*3600)
	}
	return time.Date(2026, 11, 23, 0, 0, 0, 0, la)
}

// Day runs a simulated quota day of a generated tenant with greep local as it runs in
// production (push on, hourly resync with a rolling slice, the daily settings sweep,
// remediation in the rules file's mode), under the quotas Google enforces, while the
// day's changes (membership adds and removals, settings changes) arrive at random
// times. It reports the calls per API and as a share of each daily quota, and the
// freshness of the changes (change to visible in the cache). The naive way, on its own
// simulator of the same tenant with the same changes at the same times, crawls every
// group's members and settings every 10 minutes.
func Day(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 720
		if o.Groups > 5000 {
			// The initial sync and the settings sweep of a large tenant would ask the
			// process for more calls a wall second than it makes at 720×, and the warm-up
			// would overrun into the day (the origin's 45,000 groups ran true at 60×).
			o.TimeScale = 60
		}
	}
	start := dayStart()
	end := start.Add(daySpec.length)
	sc := workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale,
		Start: start.Add(-daySpec.warmup), QuotaPerDay: dailyQuotas}
	// The tenant (the same seed generates the same one for Greep and the poller) and
	// its day of changes.
	gen, err := workspacesim.New(sc)
	if err != nil {
		return nil, err
	}
	truth, err := gen.Truth("")
	gen.Close()
	if err != nil {
		return nil, err
	}
	sched := daySchedule(truth, start, o.Seed)
	// The poller first: run beside Greep's day it would take the CPU Greep's
	// time-scaled clock needs.
	var naive *Result
	if o.NaiveTimeScale > 0 {
		if naive, err = naiveDay(ctx, o, start, daySpec.length, daySpec.naivePeriod, true, true, slices.Clone(sched)); err != nil {
			return nil, fmt.Errorf("naive poller: %w", err)
		}
	}

	e, err := startEnv(ctx, o, sc, func(c *local.Config) { c.ResyncEvery = time.Hour })
	if err != nil {
		return nil, err
	}
	defer e.close()

	// Warm-up: channels, the initial sync, the first settings sweep under way.
	if err := e.waitChannels(ctx, 2, time.Minute); err != nil {
		return nil, err
	}
	if err := waitFinished(ctx, e.app); err != nil {
		return nil, err
	}
	warmedAt := e.sim.Now()
	if err := sleepUntil(ctx, e.sim, start, o.TimeScale); err != nil {
		return nil, err
	}
	before := e.sim.Stats()

	w := newWatcher(e.store, e.sim.Now, o.TimeScale)
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); w.run(wctx) }()
	defer func() { stopWatch(); <-watched }()
	var refused int
	for _, s := range sched {
		if err := sleepUntil(ctx, e.sim, s.at, o.TimeScale); err != nil {
			return nil, err
		}
		c := s.chg
		c.busy = e.app.Dispatcher.Stats()[tasks.QueueSettingsSweep].Backlog > 0
		refused += w.apply(e.sim, []workspacesim.Mutation{s.mut}, []change{c})
	}
	if err := sleepUntil(ctx, e.sim, end.Add(-time.Second), o.TimeScale); err != nil {
		return nil, err
	}
	after := e.sim.Stats()
	stopWatch()
	<-watched
	w.drain(ctx, time.Duration(float64(30*time.Minute)/o.TimeScale)+10*time.Second)
	fresh, settingsFresh, err := w.result()
	if err != nil {
		return nil, err
	}
	// The re-polls of the day's last changes end within about half an hour of them.
	if err := e.settle(ctx, time.Duration(float64(30*time.Minute)/o.TimeScale)+10*time.Second); err != nil {
		return nil, err
	}

	res := &Result{Scenario: "day", TimeScale: o.TimeScale, Freshness: fresh}
	accepted, acceptedBusy, acceptedWall := w.acceptedResult()
	res.AcceptedToVisible, res.AcceptedToVisibleWall = accepted, acceptedWall
	d := delta(before, after)
	e.fillCalls(res, d)
	if err := e.tenantFigures(ctx, res); err != nil {
		return nil, err
	}
	res.Figures = map[string]any{
		"memberChanges":      daySpec.memberChanges,
		"settingsChanges":    daySpec.settingsChanges,
		"changesRefused":     refused,
		"changesOvertaken":   w.overtakenCount(),
		"dailyQuotaShare":    quotaShares(d.calls),
		"dailyLimitExceeded": d.dailyLimit,
		"rateLimitExceeded":  d.rateLimit,
		"pushesDelivered":    d.pushes,
		"pushesRetried":      d.pushRetried,
		"pushesFailed":       d.pushFailed,
		"warmupEndedAt":      warmedAt.In(start.Location()).Format(time.RFC3339),
		"resyncEverySeconds": time.Hour.Seconds(),
	}
	// At a time scale this high the settings sweep (25 reads a simulated second) asks
	// the process for tens of thousands of reads a wall second: while it runs, refreshes
	// wait for the machine, not for the queue. The split shows it.
	busy, calm := w.busyResult()
	res.Figures["freshnessDuringSettingsSweep"] = busy
	res.Figures["freshnessOutsideSettingsSweep"] = calm
	res.Figures["acceptedToVisibleDuringSettingsSweep"] = acceptedBusy
	maps.Copy(res.Figures, w.provisionalFigures())
	if settingsFresh != nil {
		res.Figures["settingsFreshness"] = settingsFresh
	}
	if warmedAt.After(start) {
		res.Figures["warmupOverran"] = true
	}
	res.Naive = naive
	sameTenant(res)
	return res, nil
}

// sleepUntil waits, in wall time, until the simulator's clock reaches t.
func sleepUntil(ctx context.Context, sim *workspacesim.Sim, t time.Time, scale float64) error {
	for {
		d := t.Sub(sim.Now())
		if d <= 0 {
			return nil
		}
		wall := time.Duration(float64(d) / scale)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(max(wall, 50*time.Microsecond)):
		}
	}
}

// daySchedule draws the day's changes at random times: membership adds of outside
// addresses (seven in ten) and removals of members added at least half an hour before,
// and settings changes that open a group's visibility (whoCanViewGroup broadened, which
// every combination rule allows), each to a different group.
func daySchedule(truth workspacesim.Truth, start time.Time, seed int64) []scheduled {
	rng := rand.New(rand.NewPCG(uint64(seed), 9))
	at := func() time.Time { return start.Add(time.Duration(rng.Int64N(int64(daySpec.length)))) }
	var times []time.Time
	for range daySpec.memberChanges {
		times = append(times, at())
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	type added struct {
		s  scheduled
		ok bool
	}
	var adds []added
	var out []scheduled
	for i, t := range times {
		// A removal of an earlier add at least 30 minutes old, else an add.
		if rng.IntN(10) < 3 {
			cands := []int{}
			for j, a := range adds {
				if a.ok && t.Sub(a.s.at) >= 30*time.Minute {
					cands = append(cands, j)
				}
			}
			if len(cands) > 0 {
				j := cands[rng.IntN(len(cands))]
				adds[j].ok = false
				a := adds[j].s
				out = append(out, scheduled{at: t,
					mut: workspacesim.Mutation{Op: "removeMember", Group: a.mut.Group, Member: a.mut.Member},
					chg: change{groupID: a.chg.groupID, groupEmail: a.chg.groupEmail, member: a.chg.member, removed: true}})
				continue
			}
		}
		g := truth.Groups[rng.IntN(len(truth.Groups))]
		m := fmt.Sprintf("day-%d@outside.example", i)
		s := scheduled{at: t, mut: workspacesim.Mutation{Op: "addMember", Group: g.Email, Member: m},
			chg: change{groupID: g.ID, groupEmail: g.Email, member: m}}
		adds = append(adds, added{s: s, ok: true})
		out = append(out, s)
	}
	perm := rng.Perm(len(truth.Groups))
	for i := 0; i < daySpec.settingsChanges && i < len(perm); i++ {
		g := truth.Groups[perm[i]]
		v := "ALL_IN_DOMAIN_CAN_VIEW"
		if g.Settings["whoCanViewGroup"] == v {
			v = "ANYONE_CAN_VIEW"
		}
		out = append(out, scheduled{at: at(),
			mut: workspacesim.Mutation{Op: "setSettings", Group: g.Email, Settings: map[string]string{"whoCanViewGroup": v}},
			chg: change{groupID: g.ID, groupEmail: g.Email, field: "whoCanViewGroup", value: v}})
	}
	slices.SortStableFunc(out, func(a, b scheduled) int { return a.at.Compare(b.at) })
	return out
}
