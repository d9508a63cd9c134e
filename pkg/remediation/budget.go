package remediation

import (
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/tasks"
)

// Budget is what a day of remediation spends of the Groups Settings API's daily quota for
// a tenant: one read per group for the sweep, at most one patch per group the run caps
// allow, and what is left for push-driven reads.
type Budget struct {
	Groups int `json:"groups"`
	// DailyLimit is the API's daily quota; SweepCap the count at which the sweep lane
	// stops (its dailyBudget share); SweepRate the lane's calls a second.
	DailyLimit int64   `json:"dailyLimit"`
	SweepCap   int64   `json:"sweepCap"`
	SweepRate  float64 `json:"sweepRate"`
	// SweepDuration is how long the lane takes to read every group once.
	SweepDuration time.Duration `json:"sweepDuration"`
	// Reads is the sweep's calls (one GET per group); MaxPatches the most patches a day
	// can send (the sweep run's cap plus the push-driven day's cap).
	Reads      int64 `json:"reads"`
	MaxPatches int64 `json:"maxPatches"`
	// PushLeft is what remains for push-driven reads after the sweep and the patches.
	PushLeft int64 `json:"pushLeft"`
	// Fraction is (Reads + MaxPatches) / DailyLimit.
	Fraction float64 `json:"fraction"`
	// Fits is true when the sweep finishes under its lane's cap, in one day, and the day
	// stays under the daily limit.
	Fits bool `json:"fits"`
	// SliceEvery is the pause between sweep slices of SliceSize reads that keeps the
	// lane's backlog at about one slice.
	SliceSize  int           `json:"sliceSize"`
	SliceEvery time.Duration `json:"sliceEvery"`
}

// PlanBudget computes a day's Budget for a tenant of groups groups from queues.yaml and
// the rules (nil rules: the default run cap). Scaled configs (greep local --time-scale)
// give the same figures: they are counted on the quota's clock.
func PlanBudget(groups int, q *queueconfig.Config, rc *rules.Config, sliceSize int) (Budget, error) {
	l, ok := q.Lane(tasks.QueueSettingsSweep)
	if !ok {
		return Budget{}, fmt.Errorf("queues.yaml has no %s lane", tasks.QueueSettingsSweep)
	}
	api, ok := q.APIs[l.API]
	if !ok {
		return Budget{}, fmt.Errorf("lane %s spends no API quota", l.Name)
	}
	if sliceSize <= 0 {
		sliceSize = 200
	}
	runCap := rules.DefaultRunCap
	if rc != nil {
		runCap = rc.RunCap
	}
	rate := l.RatePerSecond()
	if q.Scale > 0 {
		rate /= q.Scale
	}
	b := Budget{
		Groups:     groups,
		DailyLimit: api.PerDay,
		SweepCap:   l.DailyCap(),
		SweepRate:  rate,
		Reads:      int64(groups),
		// One sweep run a day and one push-driven run a day, each capped.
		MaxPatches: int64(2 * runCap),
		SliceSize:  sliceSize,
	}
	b.SweepDuration = time.Duration(float64(groups) / rate * float64(time.Second)).Round(time.Second)
	b.SliceEvery = SliceEvery(q, sliceSize)
	b.PushLeft = b.DailyLimit - b.Reads - b.MaxPatches
	b.Fraction = float64(b.Reads+b.MaxPatches) / float64(b.DailyLimit)
	b.Fits = b.Reads <= b.SweepCap && b.SweepDuration < 24*time.Hour && b.Reads+b.MaxPatches < b.DailyLimit
	return b, nil
}

// SliceEvery is Config.SliceEvery for a slice of sliceSize reads: the time the sweep lane
// takes to dispatch them, on the quota's (Config.Now's) clock.
func SliceEvery(q *queueconfig.Config, sliceSize int) time.Duration {
	l, ok := q.Lane(tasks.QueueSettingsSweep)
	if !ok || l.RatePerSecond() <= 0 {
		return 0
	}
	rate := l.RatePerSecond()
	if q.Scale > 0 {
		rate /= q.Scale
	}
	return time.Duration(float64(sliceSize) / rate * float64(time.Second))
}
