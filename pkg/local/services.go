package local

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/push"
	qlocal "github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/wiring"
)

// Periods of the loops that stand in for App Engine cron (deploy/cron.yaml), on the
// process's clock.
const (
	renewEvery = 10 * time.Minute
	sweepEvery = 24 * time.Hour
)

// CronStandIns are the cron.yaml entries greep local runs as loops of its own, by URL,
// each with the period its loop keeps under c. pkg/cluster's tests hold them to
// deploy/cron.yaml's schedules, so that the two cannot drift apart. (The settings sweep's
// loop first runs after the first full sync, where cron runs it at 02:00 Pacific; the
// lanes and publish entries have no loop: the dispatcher lends its lanes' rate itself,
// and the directory service publishes after each task, leaving no instance's remainder
// for the catch-up.)
func CronStandIns(c Config) map[string]time.Duration {
	return map[string]time.Duration{
		"/cron/reports/renew":     renewEvery,
		"/cron/directory/resync":  c.ResyncEvery,
		"/cron/alerts":            alertEvery,
		"/cron/remediation/sweep": sweepEvery,
	}
}

// mountServices adds the services other than the directory and the read API to the mux,
// built as production builds them (pkg/wiring): the push webhook and the reports worker
// (watch channels), the groupssettings worker and remediation; and starts the loops that
// stand in for their cron entries.
func (a *App) mountServices(rt *wiring.Runtime, mux *wiring.Routes) error {
	cfg := a.cfg
	clock := a.clock

	// Without remediation there are no rules, and the groupssettings worker sends no patch.
	var rc wiring.RulesConfig
	if !cfg.NoRemediation {
		var err error
		if rc.Rules, err = loadRules(cfg.Rules); err != nil {
			return fmt.Errorf("--rules: %w", err)
		}
		rc.Mode = cfg.Remediation
		rem, err := wiring.NewRemediation(rt, rc)
		if err != nil {
			return err
		}
		a.mount(mux, rem.Service)
		a.loop(func(ctx context.Context) { a.remediationLoop(ctx, rem.Sweeps, clock) })
	}
	settings, err := wiring.NewGroupsSettings(rt, rc)
	if err != nil {
		return err
	}
	a.mount(mux, *settings)

	if !cfg.NoPush {
		a.mount(mux, *wiring.NewPush(rt, wiring.PushConfig{Debounce: cfg.Debounce, NoJudge: cfg.NoRemediation}))
		if cfg.Workspace == "google" {
			// Google delivers only to a public HTTPS address; a loopback server cannot
			// receive its notifications, so the resync alone keeps the cache fresh.
			a.log.Warn("push notifications are off against Google from greep local: the webhook is not reachable from Google; the resync keeps the cache fresh")
			return nil
		}
		rep, err := wiring.NewReports(rt, wiring.ReportsConfig{Address: a.URL + push.Path, Lifetime: wiring.DefaultReports().Lifetime, Debounce: cfg.Debounce, ReconcileEvery: cfg.ReconcileEvery})
		if err != nil {
			return err
		}
		// An embedded simulator starts from its seed and knows none of the channels kept
		// under --data; a new --addr makes every kept channel point elsewhere. Either way
		// they are dead, and marking them so lets the first tick create live ones.
		if n, err := rep.Worker.ForgetLost(context.Background(), a.Sim != nil); err != nil {
			return err
		} else if n > 0 {
			a.log.Info("push: re-creating watch channels the simulator or webhook address no longer knows", zap.Int("lost", n))
		}
		a.mount(mux, rep.Service)
		a.loop(func(ctx context.Context) { rep.Worker.Run(ctx, renewEvery, clock.After) })
	}
	return nil
}

// loop runs fn in the background until the App stops.
func (a *App) loop(fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	a.bg.Add(2)
	go func() {
		defer a.bg.Done()
		<-a.stop
		cancel()
	}()
	go func() {
		defer a.bg.Done()
		fn(ctx)
	}()
}

// remediationLoop starts the settings sweep once the first full sync is in (it reads the
// groups from the cache), then every day, as cron does in production; after a restart it
// keeps the day's rhythm of the sweeps the store has seen.
func (a *App) remediationLoop(ctx context.Context, svc *remediation.Service, clock qlocal.Clock) {
	var due time.Time
	for {
		if due.IsZero() {
			// A sweep this store already ran (or runs: its slices are queued durably and
			// go on after a restart) makes the next one due a day after it started, so a
			// restart resumes instead of reading every group's settings again.
			var sw remediation.SweepState
			var st greep.SyncState
			// One killed before its first slice was queued (nothing enqueued, not finished)
			// is started again.
			if ok, err := greep.LoadState(ctx, a.Store, remediation.StateSweep, &sw); err == nil && ok && !sw.StartedAt.IsZero() && (sw.Enqueued > 0 || !sw.FinishedAt.IsZero()) {
				due = sw.StartedAt.Add(sweepEvery)
			} else if ok, err := greep.LoadState(ctx, a.Store, greep.StateSync, &st); err == nil && ok && !st.LastFullSyncAt.IsZero() {
				due = a.Now()
			}
		}
		if !due.IsZero() && !a.Now().Before(due) {
			if _, err := svc.StartSweep(ctx, 0); err != nil && ctx.Err() == nil {
				a.log.Warn("starting the settings sweep", zap.Error(err))
			}
			due = a.Now().Add(sweepEvery)
		}
		// Until the first full sync is in, look again each minute.
		var next <-chan time.Time
		if due.IsZero() {
			next = clock.After(time.Minute)
		} else {
			next = clock.At(due)
		}
		select {
		case <-ctx.Done():
			return
		case <-next:
		}
	}
}
