package workspacesim

import (
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // the daily reset is midnight Pacific wherever the simulator runs
)

// pacific is where Google's daily quotas reset.
var pacific = mustLoad("America/Los_Angeles")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("workspacesim: " + err.Error()) // embedded tzdata makes this unreachable
	}
	return loc
}

// clock is the simulated clock: start + scale × wall time elapsed + manual advances.
type clock struct {
	wall func() time.Time // time.Now, replaceable in tests

	start     time.Time
	wallStart time.Time
	scale     float64
	// advanced is atomic, not under mu: Now is read several times by every request
	// greep local serves, and a lock there was a point of contention under load.
	advanced atomic.Int64

	mu    sync.Mutex
	moved []func() // told after each Advance
}

func newClock(start time.Time, scale float64, wall func() time.Time) *clock {
	if wall == nil {
		wall = time.Now
	}
	if scale <= 0 {
		scale = 1
	}
	if start.IsZero() {
		start = wall().UTC().Truncate(time.Second)
	}
	return &clock{wall: wall, start: start.UTC(), wallStart: wall(), scale: scale}
}

func (c *clock) Now() time.Time {
	elapsed := time.Duration(float64(c.wall().Sub(c.wallStart)) * c.scale)
	return c.start.Add(elapsed + time.Duration(c.advanced.Load()))
}

func (c *clock) Advance(d time.Duration) {
	c.advanced.Add(int64(d))
	c.mu.Lock()
	moved := c.moved
	c.mu.Unlock()
	for _, f := range moved {
		f()
	}
}

func (c *clock) onAdvance(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moved = append(c.moved[:len(c.moved):len(c.moved)], f)
}

// Scale converts a simulated duration into wall time.
func (c *clock) WallDuration(sim time.Duration) time.Duration {
	return time.Duration(float64(sim) / c.scale)
}

// quotaDay names the quota day t falls in (days run midnight to midnight Pacific).
func quotaDay(t time.Time) string { return t.In(pacific).Format("2006-01-02") }

// nextReset is the first Pacific midnight after t.
func nextReset(t time.Time) time.Time {
	p := t.In(pacific)
	y, m, d := p.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, pacific)
}
