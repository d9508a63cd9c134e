// Package wiring is Greep's one composition root. A Runtime holds what every service
// shares (the store, the queue, queues.yaml, the daily quota guard, the process's one
// clock, the logger, the Google clients), and one constructor per service builds that
// service's http.Handler from it. The App Engine mains (services/<name>, through
// pkg/service: Datastore and Cloud Tasks) and greep local (pkg/local: bbolt or
// Datastore and the in-process dispatcher, every service on one mux) call the same
// constructors, so the system deployed and the system measured are wired alike.
package wiring

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/fanout"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/workspace"
)

// Runtime is what the services of one process share.
type Runtime struct {
	Store  greep.Store
	Queue  queue.Enqueuer
	Queues *queueconfig.Config
	// Quota is the daily budget guard: the only source of quota days and reset times
	// (in queues.yaml's timeZone), on the runtime's clock.
	Quota *quota.Guard
	// Now is the process's one clock: the wall clock in production, the simulator's
	// (time-scaled) in greep local. Task schedule times, the debounce, the quota day and
	// every stored timestamp follow it.
	Now func() time.Time
	Log *zap.Logger
	// Google is the Workspace clients (ConnectGoogle); nil in a service that calls no
	// Google API.
	Google *workspace.Clients
	// TrustTaskHeaders lets the task and cron headers mark a request as Cloud Tasks' or
	// cron's: true only where the platform strips them from outside requests.
	TrustTaskHeaders bool
	// QueueStats gives /v1/status each queue's figures; nil shows none.
	QueueStats func(ctx context.Context) (map[string]greep.QueueStat, error)
	// Metrics is the process's registry (served on /metrics): Store is instrumented with
	// it, and the Google clients, the directory worker and the webhook report to it.
	Metrics *metrics.Metrics
	// Topic is where the directory service publishes the change feed (ConnectPubSub);
	// nil keeps the feed HTTP only.
	Topic fanout.Topic
	// History is the dashboard's 24-hour chart ring (NewAPI makes it); nil in a process
	// that serves no dashboard.
	History *metrics.Ring
	// Ops is the alerts and the quota projection (NewAlerts): set by greep local and by
	// production's default service, which judges them on PathCronAlerts; nil elsewhere,
	// whose /v1/status then shows none.
	Ops Ops
	// HistoryRetention is how long the history keeps its events: the directory worker
	// prunes what is older, the read API refuses ranges reaching further back. Zero is
	// history.DefaultRetention.
	HistoryRetention time.Duration
	// Pprof has the read API serve net/http/pprof under /debug/pprof/ behind the
	// operators' credentials (the status scope).
	Pprof bool

	// figures writes the process's figures for the alerts (recordingFigures), one per
	// process whatever the services built on it.
	figuresOnce sync.Once
	figures     *figures
}

// New returns a runtime over store and q, with the guard of queues on the clock now
// (time.Now when nil).
func New(store greep.Store, q queue.Enqueuer, queues *queueconfig.Config, now func() time.Time, log *zap.Logger) *Runtime {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	// A store already instrumented (greep local's, shared with its dispatcher) brings its
	// registry along.
	m, ok := metrics.Of(store)
	if !ok {
		m = metrics.New(now)
		store = m.InstrumentStore(store)
	}
	rt := &Runtime{
		Store: store, Queue: q, Queues: queues, Now: now, Log: log,
		Quota:   quota.New(store, queues, quota.WithClock(now)),
		Metrics: m,
	}
	m.Collect(metrics.Sources{Status: status{rt}, Store: store, Queues: queues})
	return rt
}

// ConnectGoogle builds the Workspace clients with every call through the one-call-per-task
// budget and the daily quota guard, so no service spends more of Google's quota than
// queues.yaml gives it.
func (rt *Runtime) ConnectGoogle(ctx context.Context, c workspace.Config) error {
	c.Wrap = callbudget.Wrap(rt.Quota, callbudget.Observe(rt.Metrics))
	clients, err := workspace.New(ctx, c)
	if err != nil {
		return err
	}
	rt.Google = clients
	return nil
}

func (rt *Runtime) google(service string) (*workspace.Clients, error) {
	if rt.Google == nil {
		return nil, errors.New(service + ": no Google clients in the runtime (ConnectGoogle)")
	}
	return rt.Google, nil
}

// Service is one App Engine service's handler and the path prefixes dispatch.yaml routes
// to it.
type Service struct {
	Name    string
	Routes  []string
	Handler http.Handler
}

// Mux is where a service's routes are served: Routes, or an http.ServeMux.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Mount serves the service's routes on mux.
func (s Service) Mount(mux Mux) {
	for _, r := range s.Routes {
		mux.Handle(r, s.Handler)
	}
}
