package local

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/push"
	qlocal "github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/settingsworker"
	"github.com/greephq/greep/pkg/workspace"
)

// Periods of the loops that stand in for App Engine cron (deploy/cron.yaml), on the
// process's clock.
const (
	renewEvery = 10 * time.Minute
	sweepEvery = 24 * time.Hour
)

// mountServices adds the services other than the directory to the mux: the push webhook
// and the reports worker (watch channels), the groupssettings worker and remediation, and
// starts the loops that stand in for their cron entries.
func (a *App) mountServices(mux *http.ServeMux, clients *workspace.Clients) error {
	cfg := a.cfg
	clock := qlocal.ScaledClock(a.Now, cfg.TimeScale)
	at := func(d time.Duration) time.Time { return a.Now().Add(d) }

	settings := settingsworker.New(settingsworker.Config{
		Store: a.Store, Settings: clients.Settings, Queue: a.Dispatcher,
		Now: a.Now, At: at,
		NextReset: func(t time.Time) time.Time { _, r := a.Guard.Day(t); return r },
		Logger:    a.log.Named("groupssettings"),
	})
	mux.Handle("/tasks/groupssettings/", settings.Handler())

	if !cfg.NoRemediation {
		path, err := findFile(cfg.Rules)
		if err != nil {
			return fmt.Errorf("--rules: %w", err)
		}
		rc, err := rules.LoadFile(path)
		if err != nil {
			return fmt.Errorf("--rules: %w", err)
		}
		svc := remediation.New(remediation.Config{
			Rules: rc, Store: a.Store, Queue: a.Dispatcher, Mode: cfg.Remediation,
			Now: a.Now, At: at, Zone: a.Queues.TimeZone,
			SliceSize: 200, SliceEvery: remediation.SliceEvery(a.Queues, 200),
			Quota: a.Guard, Queues: a.Queues,
			Logger: a.log.Named("remediation"),
		})
		h := svc.Handler()
		mux.Handle("/tasks/remediation/", h)
		mux.Handle("/cron/remediation/", h)
		a.loop(func(ctx context.Context) { a.remediationLoop(ctx, svc, clock) })
	}

	if !cfg.NoPush {
		mux.Handle(push.Path, push.New(a.Store, a.Dispatcher, push.Config{Debounce: cfg.Debounce, Now: a.Now, Log: a.log.Named("push")}))
		if cfg.Workspace == "google" {
			// Google delivers only to a public HTTPS address; a loopback server cannot
			// receive its notifications, so the resync alone keeps the cache fresh.
			a.log.Warn("push notifications are off against Google from greep local: the webhook is not reachable from Google; the resync keeps the cache fresh")
			return nil
		}
		w, err := reports.New(a.Store, clients.Reports, a.Dispatcher, reports.Config{Address: a.URL + push.Path, Now: a.Now, Log: a.log.Named("reports")})
		if err != nil {
			return err
		}
		rh := w.Handler(false)
		mux.Handle("/tasks/reports/", rh)
		mux.Handle("/cron/reports/", rh)
		a.loop(func(ctx context.Context) { w.Run(ctx, renewEvery, clock.After) })
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
		wait := time.Minute
		if !due.IsZero() {
			wait = due.Sub(a.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-clock.After(wait):
		}
	}
}
