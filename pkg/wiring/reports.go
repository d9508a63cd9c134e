package wiring

import (
	"time"

	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/reports"
)

// ReportsConfig is the reports service's own configuration.
type ReportsConfig struct {
	Address  string        // the webhook's URL, https://HOST/push/notify
	Lifetime time.Duration // asked for each watch channel
	Debounce time.Duration // of the refreshes a backfill enqueues, as the push service's
	// ReconcileEvery is reports.Policy's (0: an hour; negative: never).
	ReconcileEvery time.Duration
}

// DefaultReports is the reports service's defaults (no address: it is the deployment's).
func DefaultReports() ReportsConfig {
	return ReportsConfig{Lifetime: reports.MaxLifetime, Debounce: push.DefaultDebounce}
}

// Reports is the reports service and its worker, which greep local ticks on its own
// clock where App Engine cron calls the cron path.
type Reports struct {
	Service
	Worker *reports.Worker
}

// NewReports builds the reports service: the only caller of the Reports API.
func NewReports(rt *Runtime, c ReportsConfig) (*Reports, error) {
	g, err := rt.google("reports")
	if err != nil {
		return nil, err
	}
	w, err := reports.New(rt.Store, g.Reports, rt.Queue, reports.Config{
		Address: c.Address,
		Policy:  reports.Policy{Lifetime: c.Lifetime, ReconcileEvery: c.ReconcileEvery},
		Now:     rt.Now,
		Quota:   rt.Quota,
		Log:     rt.Log.Named("reports"),
		// The backfill records what it lists as the webhook records what it is pushed.
		Record:  push.New(rt.Store, rt.Queue, push.Config{Debounce: c.Debounce, Now: rt.Now, Log: rt.Log.Named("reports")}),
		History: rt.Store,
		HTTP:    g.HTTP,
	})
	if err != nil {
		return nil, err
	}
	return &Reports{
		Service: Service{Name: "reports", Routes: []string{"/tasks/reports/", "/cron/reports/"}, Handler: rt.recordingFigures("reports", w.Handler(rt.TrustTaskHeaders))},
		Worker:  w,
	}, nil
}
