// Package directory is the directory service's task handlers: the only code that calls the
// Directory API. Each handler makes at most one call, is safe to run twice, and writes the
// cache through atomic member snapshots. A sweep (full sync or resync) is a chain of tasks
// on the sweep lane: one groups.list page per task, each page enqueuing the member reads its
// groups need and the next page, and a finish task that drops what the sweep did not see.
// A refresh (push-driven, on the push lane) re-reads one group and checks that it shows
// what the push event announced. What to do next is decided by pkg/syncplan; this package
// carries it out.
package directory

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	admin "google.golang.org/api/admin/directory/v1"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/history"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/syncplan"
)

// Handler paths of the sweep's own tasks (the refresh path other services use is
// tasks.PathDirectoryRefresh).
const (
	PathGroupsPage  = "/tasks/directory/groups-page"
	PathMembersPage = "/tasks/directory/members-page"
	PathUsersPage   = "/tasks/directory/users-page"
	PathFinish      = "/tasks/directory/finish"
	PathCronResync  = "/cron/directory/resync"
)

// Store is what the worker needs of the cache.
type Store interface {
	greep.GroupStore
	PutUsers(ctx context.Context, users []greep.User) error
	User(ctx context.Context, key string) (greep.User, error)
	Users(ctx context.Context, q greep.UserQuery) ([]greep.User, string, error)
	DeleteUser(ctx context.Context, id string) error
	// AddEvents records in the history the user changes a users sweep found.
	AddEvents(ctx context.Context, events []greep.Event) (int, error)
	greep.StateStore
	greep.RecordStore
	greep.Committer
}

// Config wires a Worker.
type Config struct {
	Store     Store
	Directory *admin.Service
	Queue     queue.Enqueuer
	// Customer is the groups.list and users.list customer ("my_customer" by default).
	Customer string
	// SweepQueue and PushQueue are the lanes (tasks.QueueDirectorySweep and
	// tasks.QueueDirectory by default).
	SweepQueue, PushQueue string
	Resync                syncplan.Resync
	Repoll                syncplan.Repoll
	// Now is the process's one clock (the runtime's): the cache's timestamps and the
	// tasks' schedule times follow it. Default time.Now.
	Now func() time.Time
	// Quota is the daily budget guard, the only source of quota days and reset times.
	// Default: queues.yaml's default zone (quota.DefaultCalendar).
	Quota quota.Days
	// TrustAppEngineHeaders is set on App Engine, where the platform strips task and cron
	// headers from outside requests.
	TrustAppEngineHeaders bool
	// PublishEvery throttles how often progress is written to the status document
	// (default 1 s of wall time); phase changes are always written.
	PublishEvery time.Duration
	// ChangeRetention is how long the change feed keeps its records (default
	// DefaultChangeRetention; negative keeps them for ever). Finished sweeps prune it.
	ChangeRetention time.Duration
	// HistoryRetention is how long the history keeps its events (default
	// history.DefaultRetention; negative keeps them for ever). Finished sweeps prune it.
	HistoryRetention time.Duration
	Logger           *zap.Logger
	// Freshness hears how long a pushed change took to show in the cache (pkg/metrics);
	// optional.
	Freshness FreshnessObserver
	// ResyncChanges hears how many groups each resync page found new or changed: changes
	// push should have announced (pkg/metrics, the push-silent alert); optional.
	ResyncChanges ResyncObserver
	// Judge queues the judging of the rules (tasks.Judge) for every group whose members a
	// refresh wrote, or a sweep changed; the remediation service must serve it.
	Judge bool
}

// ResyncObserver is told the number of new or changed groups a resync page found.
type ResyncObserver interface {
	ObserveResyncChanges(n int)
}

// FreshnessObserver is told, when a refresh shows what its notification announced, how
// long after the notification arrived ("notification_to_visible") and after Google's
// event time ("change_to_confirmed") that was, on the worker's clock.
type FreshnessObserver interface {
	ObserveFreshness(kind string, d time.Duration)
}

// Worker runs the directory tasks.
type Worker struct {
	cfg    Config
	log    *zap.Logger
	runner queue.Runner
	pub    publisher
	// waited is the quota reset (Unix ns) this process last recorded a wait for.
	waited atomic.Int64
	// finishing holds the units of work that will check for the sweep's end once
	// committed (writes.go).
	finishing sync.Map
	// sweep is the sweep's state as last decoded, with the bytes it was decoded from
	// (state.go).
	sweep atomic.Pointer[decodedSweep]
}

// New returns a Worker; it needs a store, a Directory client and a queue.
func New(cfg Config) *Worker {
	if cfg.Customer == "" {
		cfg.Customer = "my_customer"
	}
	if cfg.SweepQueue == "" {
		cfg.SweepQueue = "directory-sweep"
	}
	if cfg.PushQueue == "" {
		cfg.PushQueue = "directory"
	}
	if cfg.Repoll.Attempts == 0 {
		cfg.Repoll = syncplan.DefaultRepoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ChangeRetention == 0 {
		cfg.ChangeRetention = DefaultChangeRetention
	}
	if cfg.HistoryRetention == 0 {
		cfg.HistoryRetention = history.DefaultRetention
	}
	if cfg.Quota == nil {
		cfg.Quota = quota.DefaultCalendar()
	}
	if cfg.PublishEvery == 0 {
		cfg.PublishEvery = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Worker{cfg: cfg, log: cfg.Logger, runner: queue.Runner{Queue: cfg.Queue, Log: cfg.Logger}}
}
