package wiring

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// PathCronAlerts is the default service's cron path that judges the alerts in production
// (deploy/cron.yaml); greep local judges them on a timer through the same Alerts.Judge.
const PathCronAlerts = "/cron/alerts"

// settingsSweepEvery is how often the settings sweep runs (cron.yaml's daily job).
const settingsSweepEvery = 24 * time.Hour

// AlertsConfig is what the alerts are judged with beyond the runtime.
type AlertsConfig struct {
	// PushSilence is how long no notification may arrive while the resync finds changes
	// before push is called broken (0: alert's default).
	PushSilence time.Duration
	// ResyncEvery and MaxAge size the resyncs the quota projection counts to the reset.
	ResyncEvery, MaxAge time.Duration
	// PushExpected is set where watch channels are meant to exist; SettingsSweep where
	// the nightly settings sweep runs (remediation on).
	PushExpected, SettingsSweep bool
	// ProcessFigures is set where the runtime's metrics hear every service (greep local,
	// one process): notifications, resync changes and store failures are judged from
	// memory. A production service hears only its own, so there they are judged from
	// what every service process records in StateFigures.
	ProcessFigures bool
	// NotifyURL is the Slack-compatible webhook the findings use ("" shows the alerts
	// without sending them).
	NotifyURL string
	// Started is when the process started: push silence counts from here at most.
	Started time.Time
}

// Alerts judges the operator alerts on a snapshot of the runtime's store, queues and
// guard, keeps them firing in the store (one message per occurrence and recovery however
// many instances judge), and gives the dashboard them and the quota projection.
type Alerts struct {
	rt     *Runtime
	cfg    AlertsConfig
	mgr    *alert.Manager
	sender *alert.Sender
}

// NewAlerts builds the alerts of rt; Close stops its sender.
func NewAlerts(rt *Runtime, cfg AlertsConfig) *Alerts {
	if cfg.Started.IsZero() {
		cfg.Started = rt.Now()
	}
	a := &Alerts{rt: rt, cfg: cfg}
	var sink alert.Sink
	if cfg.NotifyURL != "" {
		a.sender = alert.NewSender(&notify.Poster{URL: cfg.NotifyURL}, alert.SenderConfig{Log: rt.Log.Named("alert")})
		sink = a.sender
	}
	a.mgr = alert.NewManager(alert.Config{PushSilence: cfg.PushSilence}, rt.Store, sink)
	return a
}

// Close stops the sender: messages not yet posted are dropped.
func (a *Alerts) Close() {
	if a.sender != nil {
		a.sender.Close()
	}
}

// Judge judges the alerts once and announces what started and ended. It waits for the
// announcements (bounded by ctx and the sender's timeouts) so that a cron request ends
// after them.
func (a *Alerts) Judge(ctx context.Context) error {
	in, _, err := a.inputs(ctx)
	if err != nil && ctx.Err() == nil {
		a.rt.Log.Warn("judging the alerts: some figures could not be read", zap.Error(err))
	}
	err = a.mgr.Update(ctx, in)
	if a.sender != nil {
		fctx, cancel := context.WithTimeout(ctx, flushWithin)
		a.sender.Flush(fctx)
		cancel()
	}
	return err
}

// flushWithin bounds how long Judge waits for its announcements: a webhook that hangs
// costs the cron request this much, and the sender goes on posting after it.
const flushWithin = 30 * time.Second

// Alerts are the alerts firing (Ops), none when the store cannot say.
func (a *Alerts) Alerts() []alert.Alert {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	firing, err := a.mgr.Firing(ctx)
	if err != nil {
		a.rt.Log.Warn("reading the alerts firing", zap.Error(err))
	}
	return firing
}

// Projections are the quota projections to the reset (Ops).
func (a *Alerts) Projections(ctx context.Context) ([]alert.APIProjection, error) {
	_, apis, err := a.inputs(ctx)
	return apis, err
}

// cronAlerts is App Engine cron's call (GET): judge once.
func cronAlerts(rt *Runtime) http.Handler {
	return queue.OnlyCron(rt.TrustTaskHeaders, false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Ops == nil {
			googleerror.Write(w, http.StatusNotFound, "notFound", "this process judges no alerts")
			return
		}
		if err := rt.Ops.Judge(r.Context()); err != nil {
			googleerror.Write(w, http.StatusInternalServerError, "backendError", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

// inputs reads the snapshot the alerts are judged on, and the quota projection. A part
// that cannot be read is marked unknown and the rest still judged: a store that fails
// must still raise the store alert. err joins what could not be read.
func (a *Alerts) inputs(ctx context.Context) (alert.Inputs, []alert.APIProjection, error) {
	rt := a.rt
	now := rt.Now()
	in := alert.Inputs{Now: now, Started: a.cfg.Started, PushExpected: a.cfg.PushExpected}
	var errs []error
	unknown := func(err error, kinds ...string) bool {
		if err == nil {
			return false
		}
		errs = append(errs, err)
		in.Unknown = append(in.Unknown, kinds...)
		return true
	}

	// This process's figures live in memory: always readable. Where it hears not every
	// service, the others' are in the store.
	own := memoryFigures(rt.Metrics)
	in.LastNotification, in.LastResyncChange = own.LastNotification, own.LastResyncChange
	if s := own.StoreFailure; s != nil {
		in.StoreFailureAt, in.StoreFailure = s.At, s.Op+": "+s.Error
	}
	if !a.cfg.ProcessFigures {
		if err := storedFigures(ctx, rt, &in); err != nil {
			unknown(err, alert.KindPushSilent, alert.KindStoreWrites)
		}
	}

	var apis []alert.APIProjection
	usage, err := rt.Quota.Usage(ctx)
	var stats map[string]greep.QueueStat
	if err == nil && rt.QueueStats != nil {
		if stats, err = rt.QueueStats(ctx); err == nil {
			sampleBacklog(rt, now, stats)
		}
	}
	var st greep.SyncState
	if err == nil {
		_, err = greep.LoadState(ctx, rt.Store, greep.StateSync, &st)
	}
	var sweep directory.Sweep
	if err == nil {
		sweep, err = directory.LoadSweep(ctx, rt.Store)
	}
	var sw remediation.SweepState
	if err == nil {
		_, err = greep.LoadState(ctx, rt.Store, remediation.StateSweep, &sw)
	}
	if !unknown(err, alert.KindLaneBudget, alert.KindSweepOverdue) {
		apis = a.judgeWork(&in, usage, stats, st, sweep, sw)
	}

	if _, err := greep.LoadState(ctx, rt.Store, greep.StateChannels, &in.Channels); err != nil {
		unknown(err, alert.KindChannelUnrenewed)
	}
	failed, next, err := rt.Store.Findings(ctx, greep.FindingQuery{State: greep.FindingFailed, Page: greep.Page{Limit: 20}})
	if !unknown(err, alert.KindPatchFailures) {
		in.FailedFindings, in.FailedTruncated = failed, next != ""
	}
	if err := errors.Join(errs...); err != nil {
		return in, apis, fmt.Errorf("alerts: %w", err)
	}
	return in, apis, nil
}

// judgeWork fills the lanes' projections and the sweeps' lengths.
func (a *Alerts) judgeWork(in *alert.Inputs, usage map[string]greep.QuotaUsage, stats map[string]greep.QueueStat,
	st greep.SyncState, sweep directory.Sweep, sw remediation.SweepState) []alert.APIProjection {
	now := in.Now
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
		remaining[tasks.QueueDirectorySweep] += int64(reset.Sub(now)/every) * a.resyncCalls(groups)
	}
	settingsBacklog := stats[tasks.QueueSettingsSweep].Backlog
	settingsRunning := !sw.StartedAt.IsZero() && (!sw.Done || settingsBacklog > 0)
	if !sw.StartedAt.IsZero() && !sw.Done {
		remaining[tasks.QueueSettingsSweep] = max(0, groups-int64(sw.Enqueued))
	}
	remaining[tasks.QueueSettingsSweep] += settingsBacklog
	if a.cfg.SettingsSweep && !sw.StartedAt.IsZero() && sw.StartedAt.Add(settingsSweepEvery).Before(reset) {
		remaining[tasks.QueueSettingsSweep] += groups
	}
	lanes, apis := alert.Project(alert.ProjectionInput{Now: now, Started: a.cfg.Started, Queues: a.rt.Queues, Usage: usage, Stats: stats, Remaining: remaining})
	in.Lanes = lanes

	mode := "full sync"
	expected := a.expected(tasks.QueueDirectorySweep, groups)
	if sweep.Mode == syncplan.ModeResync {
		mode, expected = "resync", a.expected(tasks.QueueDirectorySweep, a.resyncCalls(groups))
	}
	in.Sweeps = []alert.Sweep{
		{Name: mode, Running: sweep.Running(), StartedAt: sweep.StartedAt, Expected: expected},
		{Name: "settings sweep", Running: settingsRunning, StartedAt: sw.StartedAt, Expected: a.expected(tasks.QueueSettingsSweep, groups)},
	}
	return apis
}

// resyncCalls estimates one resync's calls: the groups.list pages and the rolling slice.
func (a *Alerts) resyncCalls(groups int64) int64 {
	pages := (groups + syncplan.GroupsPageSize - 1) / syncplan.GroupsPageSize
	slice := int64(0)
	if a.cfg.MaxAge > 0 {
		slice = int64(float64(groups)*float64(a.cfg.ResyncEvery)/float64(a.cfg.MaxAge)) + 1
	}
	return pages + slice
}

// expected is how long calls take at lane's rate, at least a minute.
func (a *Alerts) expected(lane string, calls int64) time.Duration {
	l, ok := a.rt.Queues.Lane(lane)
	if !ok || l.RatePerSecond() <= 0 {
		return 0
	}
	return max(time.Minute, time.Duration(float64(calls)/l.RatePerSecond()*float64(time.Second)))
}
