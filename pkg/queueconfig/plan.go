package queueconfig

import (
	"fmt"
	"math"
	"time"
)

// DefaultGroups is the tenant size plans assume: the 45,000-group tenant Greep was built
// for, whose full sweep is about 45,000 calls (one per group).
const DefaultGroups = 45000

// LanePlan is what a lane's derived rate means in practice.
type LanePlan struct {
	Lane          string
	API           string // "" for a lane without an API
	Service       string
	Share         float64
	RatePerSecond float64
	// CeilingPerSecond is the lane's rate when the rest of its window is idle
	// (Lane.CeilingPerSecond): above RatePerSecond for a background lane, which borrows.
	CeilingPerSecond float64
	Concurrency      int
	// CallsPerDay is what the lane can spend in a quota day: its rate over 24 h, or its
	// daily cap when that is lower.
	CallsPerDay int64
	// DailyCap is the count of the API's calls at which the lane stops (0: none).
	DailyCap   int64
	Background bool
	// Sweep is the time the lane takes to make one call per group of the tenant, and
	// SweepDays how many quota days that spans when the daily cap is what binds (1 when
	// it fits in one day). Sweep is at the lane's own rate, as while push work is busy;
	// SweepAlone at its ceiling, as while the rest of the window is idle.
	Sweep      time.Duration
	SweepAlone time.Duration
	SweepDays  int
	Warnings   []string
}

// Plan derives each lane's figures for a tenant of groups groups, in lane-name order.
func (c *Config) Plan(groups int) []LanePlan {
	if groups <= 0 {
		groups = DefaultGroups
	}
	out := make([]LanePlan, 0, len(c.Lanes))
	for _, name := range c.LaneNames() {
		l := c.Lanes[name]
		p := LanePlan{
			Lane:             l.Name,
			API:              l.API,
			Service:          l.Service,
			Share:            l.Share,
			RatePerSecond:    l.RatePerSecond(),
			CeilingPerSecond: l.CeilingPerSecond(),
			Concurrency:      l.Concurrency,
			DailyCap:         l.DailyCap(),
			Background:       l.Background,
		}
		// Calls a day are counted on the quota's own clock, so the time scale does not
		// change them: use the unscaled rate.
		unscaled := math.Min(l.rawRate(), CloudTasksMaxRate)
		perDay := unscaled * 86400
		if p.DailyCap > 0 && float64(p.DailyCap) < perDay {
			perDay = float64(p.DailyCap)
		}
		p.CallsPerDay = int64(math.Round(perDay))
		p.Sweep = time.Duration(float64(groups) / unscaled * float64(time.Second)).Round(time.Second)
		alone := unscaled * p.CeilingPerSecond / p.RatePerSecond
		p.SweepAlone = time.Duration(float64(groups) / alone * float64(time.Second)).Round(time.Second)
		p.SweepDays = int(math.Ceil(float64(groups) / perDay))
		if p.SweepDays < 1 {
			p.SweepDays = 1
		}
		if l.Capped() {
			p.Warnings = append(p.Warnings, fmt.Sprintf("quota allows %.1f/s but a Cloud Tasks queue dispatches at most %d/s: capped", l.rawRate(), CloudTasksMaxRate))
		}
		if p.SweepDays > 1 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("a sweep of %d groups needs %d quota days at its daily cap of %d", groups, p.SweepDays, p.DailyCap))
		}
		// A lane whose tasks each take up to ~1 s cannot reach its rate (its ceiling, for
		// a sweep that borrows) with fewer concurrent tasks than calls a second.
		if need := int(math.Ceil(alone)); p.API != "" && l.Concurrency < need {
			p.Warnings = append(p.Warnings, fmt.Sprintf("concurrency %d is below the rate (%d/s): with calls of 1 s the lane cannot reach its rate", l.Concurrency, need))
		}
		out = append(out, p)
	}
	return out
}

// Missing returns which of names have no lane: the queues the code enqueues to
// (pkg/tasks) must all be declared.
func (c *Config) Missing(names ...string) []string {
	var out []string
	for _, n := range names {
		if _, ok := c.Lanes[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}
