package alert

import (
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queueconfig"
)

// ProjectionInput is what a quota projection knows: today's counts, the lanes and their
// budgets, how fast push work spends, and the background work still to run before the
// reset.
type ProjectionInput struct {
	Now     time.Time
	Started time.Time // push rates are averaged since here
	Queues  *queueconfig.Config
	Usage   map[string]greep.QuotaUsage
	// Stats give each queue's dispatched count since Started.
	Stats map[string]greep.QueueStat
	// Remaining is, per background lane, the calls its sweeps still make before the
	// reset: the rest of a running sweep and the sweeps due before it.
	Remaining map[string]int64
}

// APIProjection is one API's count at the reset, knowing that the guard stops each
// background lane at its budget.
type APIProjection struct {
	API       string
	Used      int64
	Limit     int64
	Projected int64
	// Push is the part of Projected that push work adds at its average rate so far;
	// Background the part the sweeps still to run add, each stopped at its lane's budget.
	Push, Background int64
	ResetAt          time.Time
}

// Project returns the lanes with what their work brings their API's count to (Lane, for
// the lane-budget alert) and each API's projection (for the dashboard). A straight line
// from today's use is wrong both ways: right after a sweep it projects the sweep's calls
// again, and it ignores a sweep about to start.
func Project(in ProjectionInput) ([]Lane, []APIProjection) {
	var lanes []Lane
	var apis []APIProjection
	elapsed := in.Now.Sub(in.Started).Seconds()
	for _, api := range in.Queues.APINames() {
		u := in.Usage[api]
		left := u.ResetAt.Sub(in.Now).Seconds()
		if left < 0 {
			left = 0
		}
		var pushDispatched, bgWanted, bgAllowed int64
		for _, name := range in.Queues.LaneNames() {
			l := in.Queues.Lanes[name]
			if l.API != api {
				continue
			}
			if l.Background {
				r := in.Remaining[name]
				bgWanted += r
				bgAllowed += min(r, max(0, l.DailyCap()-u.UsedToday))
			} else {
				pushDispatched += in.Stats[name].Dispatched
			}
		}
		var push int64
		// Under a minute of history says nothing about a day's rate.
		if elapsed >= 60 {
			push = int64(float64(pushDispatched) / elapsed * left)
		}
		apis = append(apis, APIProjection{API: api, Used: u.UsedToday, Limit: u.DailyLimit, ResetAt: u.ResetAt,
			Projected: u.UsedToday + push + bgAllowed, Push: push, Background: bgAllowed})
		for _, name := range in.Queues.LaneNames() {
			l := in.Queues.Lanes[name]
			if l.API != api {
				continue
			}
			p := u.UsedToday + push + bgAllowed
			if l.Background {
				// What the count would reach if this lane could finish its work.
				p = u.UsedToday + push + bgWanted
			}
			lanes = append(lanes, Lane{Name: name, API: api, Background: l.Background, Work: in.Remaining[name],
				Cap: l.DailyCap(), Used: u.UsedToday, Projected: p, ResetAt: u.ResetAt})
		}
	}
	return lanes, apis
}
