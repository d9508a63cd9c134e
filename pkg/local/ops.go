package local

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/wiring"
)

// alertEvery is how often the alerts are judged, on the process's clock.
const alertEvery = time.Minute

// ops is what operators are told: the alerts, judged every alertEvery, and the quota
// projection the dashboard shows.
type ops struct {
	a       *App
	started time.Time
	mgr     *alert.Manager
	sender  *alert.Sender
}

// startOps builds the alert manager, posting to the rules' notify URL (the findings'
// webhook) when one is set, and starts the loop that judges the alerts.
func (a *App) startOps(rt *wiring.Runtime) error {
	o := &ops{a: a, started: a.Now()}
	var sink alert.Sink
	if url, err := a.notifyURL(); err != nil {
		return err
	} else if url != "" {
		o.sender = alert.NewSender(&notify.Poster{URL: url}, alert.SenderConfig{Log: a.log.Named("alert")})
		sink = o.sender
	}
	o.mgr = alert.NewManager(alert.Config{PushSilence: a.cfg.PushSilence}, sink)
	rt.Ops = o
	a.loop(func(ctx context.Context) {
		if o.sender != nil {
			defer o.sender.Close()
		}
		for {
			o.judge(ctx)
			select {
			case <-ctx.Done():
				return
			case <-a.clock.After(alertEvery):
			}
		}
	})
	return nil
}

// notifyURL is the rules' notify URL ("" without remediation or without one).
func (a *App) notifyURL() (string, error) {
	if a.cfg.NoRemediation {
		return "", nil
	}
	rc, err := loadRules(a.cfg.Rules)
	if err != nil {
		return "", nil // mountServices reports it
	}
	return rc.NotifyURL, nil
}

func (o *ops) judge(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	in, _, err := o.inputs(ctx)
	if err != nil && ctx.Err() == nil {
		o.a.log.Warn("judging the alerts: some figures could not be read", zap.Error(err))
	}
	o.mgr.Update(in)
}

// inputs reads the snapshot the alerts are judged on, and the quota projection. A part
// that cannot be read is marked unknown and the rest still judged: a store that fails
// must still raise the store alert. err joins what could not be read.
func (o *ops) inputs(ctx context.Context) (alert.Inputs, []alert.APIProjection, error) {
	a := o.a
	now := a.Now()
	in := alert.Inputs{Now: now, Started: o.started, PushExpected: !a.cfg.NoPush && a.cfg.Workspace != "google"}
	var errs []error
	unknown := func(err error, kinds ...string) bool {
		if err == nil {
			return false
		}
		errs = append(errs, err)
		in.Unknown = append(in.Unknown, kinds...)
		return true
	}

	// The metrics live in memory: always readable.
	for _, t := range a.Metrics.LastNotifications() {
		if t.After(in.LastNotification) {
			in.LastNotification = t
		}
	}
	in.LastResyncChange = a.Metrics.LastResyncChange()
	if f := a.Metrics.LastStoreFailure(); !f.At.IsZero() {
		in.StoreFailureAt, in.StoreFailure = f.At, f.Op+": "+f.Error
	}

	var apis []alert.APIProjection
	usage, err := a.Guard.Usage(ctx)
	stats := a.Dispatcher.Stats()
	var st greep.SyncState
	if err == nil {
		_, err = greep.LoadState(ctx, a.Store, greep.StateSync, &st)
	}
	var sweep directory.Sweep
	if err == nil {
		sweep, err = a.Directory.Sweep(ctx)
	}
	var sw remediation.SweepState
	if err == nil {
		_, err = greep.LoadState(ctx, a.Store, remediation.StateSweep, &sw)
	}
	if !unknown(err, alert.KindLaneBudget, alert.KindSweepOverdue) {
		apis = o.judgeWork(&in, usage, stats, st, sweep, sw)
	}

	if _, err := greep.LoadState(ctx, a.Store, greep.StateChannels, &in.Channels); err != nil {
		unknown(err, alert.KindChannelUnrenewed)
	}
	failed, next, err := a.Store.Findings(ctx, greep.FindingQuery{State: greep.FindingFailed, Page: greep.Page{Limit: 20}})
	if !unknown(err, alert.KindPatchFailures) {
		in.FailedFindings, in.FailedTruncated = failed, next != ""
	}
	return in, apis, errors.Join(errs...)
}

// judgeWork fills the lanes' projections and the sweeps' lengths.
func (o *ops) judgeWork(in *alert.Inputs, usage map[string]greep.QuotaUsage, stats map[string]greep.QueueStat,
	st greep.SyncState, sweep directory.Sweep, sw remediation.SweepState) []alert.APIProjection {
	a, now := o.a, in.Now
	groups := max(st.Groups, st.GroupsTotal)
	var reset time.Time
	for _, u := range usage {
		reset = u.ResetAt
	}

	remaining := map[string]int64{}
	if sweep.Running() {
		remaining[tasks.QueueDirectorySweep] = max(0, groups-st.GroupsDone)
	}
	if every := a.cfg.ResyncEvery; every > 0 && reset.After(now) {
		remaining[tasks.QueueDirectorySweep] += int64(reset.Sub(now)/every) * o.resyncCalls(groups)
	}
	settingsBacklog := stats[tasks.QueueSettingsSweep].Backlog
	settingsRunning := !sw.StartedAt.IsZero() && (!sw.Done || settingsBacklog > 0)
	if !sw.StartedAt.IsZero() && !sw.Done {
		remaining[tasks.QueueSettingsSweep] = max(0, groups-int64(sw.Enqueued))
	}
	remaining[tasks.QueueSettingsSweep] += settingsBacklog
	if !a.cfg.NoRemediation && !sw.StartedAt.IsZero() && sw.StartedAt.Add(sweepEvery).Before(reset) {
		remaining[tasks.QueueSettingsSweep] += groups
	}
	lanes, apis := alert.Project(alert.ProjectionInput{Now: now, Started: o.started, Queues: a.Queues, Usage: usage, Stats: stats, Remaining: remaining})
	in.Lanes = lanes

	mode := "full sync"
	expected := o.expected(tasks.QueueDirectorySweep, groups)
	if sweep.Mode == syncplan.ModeResync {
		mode, expected = "resync", o.expected(tasks.QueueDirectorySweep, o.resyncCalls(groups))
	}
	in.Sweeps = []alert.Sweep{
		{Name: mode, Running: sweep.Running(), StartedAt: sweep.StartedAt, Expected: expected},
		{Name: "settings sweep", Running: settingsRunning, StartedAt: sw.StartedAt, Expected: o.expected(tasks.QueueSettingsSweep, groups)},
	}
	return apis
}

// resyncCalls estimates one resync's calls: the groups.list pages and the rolling slice.
func (o *ops) resyncCalls(groups int64) int64 {
	r := syncplan.Resync{Every: o.a.cfg.ResyncEvery, MaxAge: o.a.cfg.MaxAge}
	pages := (groups + 199) / 200
	slice := int64(0)
	if r.MaxAge > 0 {
		slice = int64(float64(groups)*float64(r.Every)/float64(r.MaxAge)) + 1
	}
	return pages + slice
}

// expected is how long calls take at lane's rate, at least a minute.
func (o *ops) expected(lane string, calls int64) time.Duration {
	l, ok := o.a.Queues.Lane(lane)
	if !ok || l.RatePerSecond() <= 0 {
		return 0
	}
	return max(time.Minute, time.Duration(float64(calls)/l.RatePerSecond()*float64(time.Second)))
}

// Alerts are the alerts firing (wiring.Ops).
func (o *ops) Alerts() []alert.Alert { return o.mgr.Firing() }

// Projections are the quota projections to the reset (wiring.Ops).
func (o *ops) Projections(ctx context.Context) ([]alert.APIProjection, error) {
	_, apis, err := o.inputs(ctx)
	return apis, err
}
