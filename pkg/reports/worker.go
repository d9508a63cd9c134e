// Package reports is the reports worker (services/reports), the only caller of the Reports
// API. It keeps one activities.watch channel per watched application (admin, groups)
// alive: a cron entry (and a timer in greep local) calls Tick, which plans from the stored
// channels (Policy.Plan, pure) and enqueues one task per Google call due; each task handler
// makes that one call. A successor channel is created before the current one expires, both
// stay live for an overlap, then the old one is stopped.
//
// Channels are kept in the store under greep.StateChannels, with their secret tokens (the
// webhook checks notifications against them) and expirations (shown by /v1/status).
package reports

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"go.uber.org/zap"
	reportsapi "google.golang.org/api/admin/reports/v1"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/tasks"
)

// Paths of the worker. PathReportsRenew is in pkg/tasks; the stop task and the cron entry
// are the worker's own business.
const (
	PathStop = "/tasks/reports/stop" // body StopChannel
	PathCron = "/cron/reports/renew" // GET, from cron.yaml
)

// StopChannel asks the worker to stop one channel with channels.stop.
type StopChannel struct {
	Application string `json:"application"`
	ID          string `json:"id"`
}

// Config sets the worker up.
type Config struct {
	// Address is the webhook's public URL (https://.../push/notify) given to every channel.
	Address string
	Policy  Policy
	// Now is the clock; it must be the one the webhook checks expirations by (the
	// simulated clock in greep local). Default time.Now.
	Now func() time.Time
	// Quota is the daily budget guard, the only source of quota days and reset times.
	// Default: queues.yaml's default zone (quota.DefaultCalendar).
	Quota quota.Days
	Log   *zap.Logger
	// Record, History and HTTP enable the backfill (backfill.go); without Record there is
	// none. HTTP is the Reports client's own HTTP client (workspace.Clients.HTTP).
	Record  Recorder
	History History
	HTTP    *http.Client
}

// Worker keeps the watch channels.
type Worker struct {
	store   greep.StateStore
	reports *reportsapi.Service
	queue   queue.Enqueuer
	address string
	policy  Policy
	now     func() time.Time
	days    quota.Days
	log     *zap.Logger
	record  Recorder
	history History
	http    *http.Client
}

// New returns the worker. rep is the Reports API client (pkg/workspace); its transport
// carries the per-task call budget.
func New(store greep.StateStore, rep *reportsapi.Service, q queue.Enqueuer, cfg Config) (*Worker, error) {
	u, err := url.Parse(cfg.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("reports: webhook address %q is not an http(s) URL", cfg.Address)
	}
	p, err := cfg.Policy.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Quota == nil {
		cfg.Quota = quota.DefaultCalendar()
	}
	if cfg.Record != nil && (cfg.History == nil || cfg.HTTP == nil) {
		return nil, fmt.Errorf("reports: the backfill needs the history and the Reports HTTP client")
	}
	return &Worker{store: store, reports: rep, queue: q, address: cfg.Address, policy: p, now: cfg.Now, days: cfg.Quota, log: cfg.Log,
		record: cfg.Record, history: cfg.History, http: cfg.HTTP}, nil
}

// Run calls Tick now and then every period of the worker's clock until ctx ends: greep
// local's stand-in for the cron entry. after waits on that clock (nil: time.After, the
// wall clock); with a time-scaled simulator pass the dispatcher's scaled clock's After.
// A timer that fires early only makes Run look at the clock again. Errors are logged; the
// next tick retries.
func (w *Worker) Run(ctx context.Context, every time.Duration, after func(time.Duration) <-chan time.Time) {
	if after == nil {
		after = time.After
	}
	// The process was down until now: what it missed is backfilled.
	if err := w.StartBackfills(ctx); err != nil && ctx.Err() == nil {
		w.log.Error("reports: starting backfills", zap.Error(err))
	}
	due := w.now()
	for {
		if !w.now().Before(due) {
			if err := w.Tick(ctx); err != nil && ctx.Err() == nil {
				w.log.Error("reports: renewing channels", zap.Error(err))
			}
			due = w.now().Add(every)
		}
		select {
		case <-ctx.Done():
			return
		case <-after(due.Sub(w.now())):
		}
	}
}

// Tick enqueues a task for every Google call the channels need now. Task names come from
// what the call replaces or stops, so ticking again before a task ran enqueues nothing new.
// It also forgets channels that expired long ago, and starts the reconciliation of an
// application whose history was last checked over Policy.ReconcileEvery ago.
func (w *Worker) Tick(ctx context.Context) error {
	now := w.now()
	channels, err := w.channels(ctx)
	if err != nil {
		return err
	}
	if pruned := w.policy.Prune(slices.Clone(channels), now); len(pruned) != len(channels) {
		_, err := greep.UpdateStateJSON(ctx, w.store, greep.StateChannels, func(chs *[]greep.Channel) error {
			*chs = w.policy.Prune(*chs, now)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reports: pruning channels: %w", err)
		}
	}
	for _, a := range w.policy.Plan(channels, now) {
		var t queue.Task
		switch a.Kind {
		case Create:
			// Named after the channel it replaces; with none live, after the pending
			// timeout's slot, so a lost create is tried again in the next slot.
			basis := a.Channel.ID
			if basis == "" {
				basis = "none-" + now.Truncate(w.policy.PendingTimeout).UTC().Format(time.RFC3339)
			}
			t, err = tasks.New(tasks.QueueReports, tasks.PathReportsRenew, tasks.Name(a.Application, "watch", basis),
				tasks.RenewChannel{Application: a.Application}, time.Time{})
		case Stop:
			t, err = w.stopTask(a.Application, a.Channel.ID, time.Time{})
		}
		if err != nil {
			return err
		}
		if err := w.queue.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("reports: enqueue %s %s: %w", a.Kind, a.Application, err)
		}
	}
	// After the channels: a failure here must not hold a renewal up.
	var errs []error
	for _, app := range w.policy.Applications {
		if _, err := w.reconcile(ctx, app, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *Worker) stopTask(app, id string, at time.Time) (queue.Task, error) {
	return tasks.New(tasks.QueueReports, PathStop, tasks.Name(app, "stop", id), StopChannel{Application: app, ID: id}, at)
}

func (w *Worker) channels(ctx context.Context) ([]greep.Channel, error) {
	var chs []greep.Channel
	if _, err := greep.LoadState(ctx, w.store, greep.StateChannels, &chs); err != nil {
		return nil, fmt.Errorf("reports: loading channels: %w", err)
	}
	return chs, nil
}

// errNotDue aborts a state update when the plan no longer calls for the work.
var errNotDue = errors.New("not due")

// Renew creates a new watch channel for app if the plan still calls for one (one
// activities.watch call), then schedules the stop of the channel it replaces after the
// overlap. It returns the new channel, or a zero Channel when no renewal was due.
func (w *Worker) Renew(ctx context.Context, app string) (greep.Channel, error) {
	if !slices.Contains(w.policy.Applications, app) {
		return greep.Channel{}, greep.Errorf(greep.EINVALID, "application %q is not watched", app)
	}
	now := w.now()
	ch := greep.Channel{
		ID:          "greep-" + app + "-" + rand.Text(),
		Application: app,
		Token:       rand.Text() + rand.Text(), // 260 random bits
		Address:     w.address,
		CreatedAt:   now,
		Expiration:  now.Add(w.policy.Lifetime),
		State:       StatePending,
	}
	// Stored before the call: Google may push the sync message, and events, before the
	// watch call returns, and the webhook must know the channel's token by then. The plan
	// is checked again in the same transaction, so a duplicate task creates nothing.
	var replaced greep.Channel
	_, err := greep.UpdateStateJSON(ctx, w.store, greep.StateChannels, func(chs *[]greep.Channel) error {
		for _, a := range w.policy.Plan(*chs, now) {
			if a.Kind == Create && a.Application == app {
				replaced = a.Channel
				*chs = append(*chs, ch)
				return nil
			}
		}
		return errNotDue
	})
	if errors.Is(err, errNotDue) {
		return greep.Channel{}, nil
	}
	if err != nil {
		return greep.Channel{}, fmt.Errorf("reports: recording channel %s: %w", ch.ID, err)
	}

	got, callErr := w.reports.Activities.Watch("all", app, &reportsapi.Channel{
		Id:         ch.ID,
		Type:       "web_hook",
		Address:    ch.Address,
		Token:      ch.Token,
		Expiration: ch.Expiration.UnixMilli(),
	}).Context(ctx).Do()
	if callErr == nil {
		ch.State = StateLive
		ch.ResourceID = got.ResourceId
		if got.Expiration > 0 {
			ch.Expiration = time.UnixMilli(got.Expiration).UTC()
		}
	} else {
		// Not deleted: a timed-out call may still have made the channel at Google, and the
		// status page should show the failure. Its notifications are refused from now on;
		// the task's retry makes a new channel, and the one it replaces stays live.
		ch.State = StateFailed
	}
	if err := w.update(ctx, ch); err != nil {
		return greep.Channel{}, errors.Join(callErr, err)
	}
	if callErr != nil {
		return greep.Channel{}, fmt.Errorf("reports: activities.watch %s: %w", app, callErr)
	}
	w.log.Info("reports: watch channel created", zap.String("application", app), zap.String("channel", ch.ID),
		zap.Time("expiration", ch.Expiration), zap.String("replaces", replaced.ID))
	// Without a live predecessor nothing delivered app's activities for a while (a lapsed
	// channel, or a first start): backfill them. With one, the cron's reconciliation
	// still checks what it delivered: a live channel is no proof the webhook recorded it.
	if replaced.ID == "" {
		if err := w.startBackfill(ctx, app); err != nil {
			// The channel is live; the next start, lapse or reconciliation backfills
			// from where the history was last complete.
			w.log.Warn("reports: backfill after the watch", zap.String("application", app), zap.Error(err))
		}
	}
	if replaced.ID != "" {
		// The stop waits out the overlap in the queue rather than for a later tick.
		t, err := w.stopTask(app, replaced.ID, now.Add(w.policy.Overlap))
		if err == nil {
			err = w.queue.Enqueue(ctx, t)
		}
		if err != nil {
			// The next tick plans the stop anyway.
			w.log.Warn("reports: scheduling the stop of the replaced channel", zap.String("channel", replaced.ID), zap.Error(err))
		}
	}
	return ch, nil
}

// update replaces the stored channel of ch's id with ch.
func (w *Worker) update(ctx context.Context, ch greep.Channel) error {
	_, err := greep.UpdateStateJSON(ctx, w.store, greep.StateChannels, func(chs *[]greep.Channel) error {
		for i := range *chs {
			if (*chs)[i].ID == ch.ID {
				(*chs)[i] = ch
				return nil
			}
		}
		*chs = append(*chs, ch)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reports: recording channel %s: %w", ch.ID, err)
	}
	return nil
}

// Stop stops one channel with channels.stop (one call) if it is live and not its
// application's newest live channel; otherwise it does nothing.
func (w *Worker) Stop(ctx context.Context, id string) error {
	now := w.now()
	chs, err := w.channels(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(chs, func(c greep.Channel) bool { return c.ID == id })
	if i < 0 || !Live(chs[i], now) {
		return nil
	}
	ch := chs[i]
	hasNewer := slices.ContainsFunc(chs, func(c greep.Channel) bool {
		return c.ID != id && c.Application == ch.Application && Live(c, now) && newer(c, ch)
	})
	if !hasNewer {
		return nil // the newest live channel is never stopped: that would leave a gap
	}
	err = w.reports.Channels.Stop(&reportsapi.Channel{Id: ch.ID, ResourceId: ch.ResourceID}).Context(ctx).Do()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		err = nil // gone already (expired, or stopped by an earlier attempt)
	}
	if err != nil {
		return fmt.Errorf("reports: channels.stop %s: %w", ch.ID, err)
	}
	ch.State = StateStopped
	if err := w.update(ctx, ch); err != nil {
		return err
	}
	w.log.Info("reports: watch channel stopped", zap.String("application", ch.Application), zap.String("channel", ch.ID))
	return nil
}
