package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// SettingsSweep runs greep local's daily settings sweep over a generated tenant under
// Google's Groups Settings quota (100,000 calls a day): after the initial sync, the
// sweep reads every group's settings once, paced by its queue and stopped by the daily
// budget guard. It reports the sweep's calls, their share of the daily quota, the
// quota errors (none expected) and how long the sweep took. The naive way, on its own
// simulator of the same tenant, reads every group's settings every 10 minutes for a day.
func SettingsSweep(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 10
	}
	start := dayStart()
	sc := workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale,
		Start: start, QuotaPerDay: dailyQuotas}
	e, err := startEnv(ctx, o, sc, func(c *local.Config) { c.NoPush = true })
	if err != nil {
		return nil, err
	}
	defer e.close()
	// The run's calls are the initial sync's and the sweep's: the sweep starts as soon
	// as the sync has finished, so no snapshot could fall between them.
	before := e.sim.Stats()
	if err := waitFinished(ctx, e.app); err != nil {
		return nil, err
	}
	truth, err := e.sim.Truth("")
	if err != nil {
		return nil, err
	}
	groups := int64(len(truth.Groups))
	sweepStart := e.sim.Now()
	lane, _ := e.app.Queues.Lane(tasks.QueueSettingsSweep)
	expected := time.Duration(float64(groups)/lane.RatePerSecond()*float64(time.Second)) + time.Hour
	limit := time.Duration(float64(expected)/o.TimeScale) + time.Minute
	if err := waitUntil(ctx, limit, "every group's settings read", func() (bool, error) {
		return e.sim.Stats().Calls["groupssettings.groups.get"] >= groups, nil
	}); err != nil {
		return nil, err
	}
	after := e.sim.Stats()
	d := delta(before, after)
	res := &Result{Scenario: "settings-sweep", TimeScale: o.TimeScale}
	e.fillCalls(res, d)
	if err := e.tenantFigures(ctx, res); err != nil {
		return nil, err
	}
	// Utilization here is of the sweep lane's Groups Settings ceiling (the window's
	// usable rate, which it borrows while push reads are idle), over the sweep.
	calls := apiCalls(d.calls, workspacesim.APIGroupsSettings)
	res.AllowedPerSecond = round(lane.CeilingPerSecond())
	res.AchievedPerSecond, res.Utilization = 0, 0
	if s := after.Now.Sub(sweepStart).Seconds(); s > 0 {
		res.AchievedPerSecond = float64(calls) / s
		res.Utilization = res.AchievedPerSecond / lane.CeilingPerSecond()
	}
	quota := dailyQuotas[workspacesim.APIGroupsSettings]
	res.Figures = map[string]any{
		"settingsReads":          calls,
		"dailyQuota":             quota,
		"dailyQuotaShare":        round4(float64(calls) / float64(quota)),
		"sweepBudget":            int64(lane.DailyBudget * float64(quota)),
		"sweepSimulatedSeconds":  round(after.Now.Sub(sweepStart).Seconds()),
		"dailyLimitExceeded":     d.dailyLimit,
		"rateLimitExceeded":      d.rateLimit,
		"groupsReadOnce":         calls == groups,
		"sweepsPerDayUnderQuota": round(float64(quota) / float64(max(groups, 1))),
	}
	if o.NaiveTimeScale > 0 {
		if res.Naive, err = naiveDay(ctx, o, start, 24*time.Hour, daySpec.naivePeriod, false, true, nil); err != nil {
			return nil, fmt.Errorf("naive settings poll: %w", err)
		}
	}
	sameTenant(res)
	return res, nil
}
