package wiring

import (
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// DirectoryConfig is the directory service's own configuration.
type DirectoryConfig struct {
	Customer string // groups.list's and users.list's customer
	// ResyncEvery is the resync's period (cron's schedule; greep local's loop); MaxAge the
	// oldest any group's members may get. Together they size the rolling slice.
	ResyncEvery, MaxAge time.Duration
	// NoJudge stops queueing the judging of member writes (tasks.Judge) where no
	// remediation service runs to take it (greep local without remediation).
	NoJudge bool
}

// DefaultDirectory is the directory service's defaults.
func DefaultDirectory() DirectoryConfig {
	return DirectoryConfig{Customer: "my_customer", ResyncEvery: time.Hour, MaxAge: 24 * time.Hour}
}

// Directory is the directory service and its worker, which greep local also drives
// (initial sync, resync loop, progress).
type Directory struct {
	Service
	Worker *directory.Worker
}

// NewDirectory builds the directory service. A stalled sweep (a count or tasks lost) is
// recovered by the resync tick (Worker.Tick): the cron in production, greep local's
// resync loop; greep local also recounts at start. With a topic in the runtime (ConnectPubSub) the service
// publishes the change feed after each task, and on /cron/directory/publish.
func NewDirectory(rt *Runtime, c DirectoryConfig) (*Directory, error) {
	g, err := rt.google("directory")
	if err != nil {
		return nil, err
	}
	w := directory.New(directory.Config{
		Store: rt.Store, Directory: g.Directory, Queue: rt.Queue, Customer: c.Customer,
		SweepQueue: tasks.QueueDirectorySweep, PushQueue: tasks.QueueDirectory,
		Resync:                syncplan.Resync{Every: c.ResyncEvery, MaxAge: c.MaxAge},
		Now:                   rt.Now,
		Quota:                 rt.Quota,
		TrustAppEngineHeaders: rt.TrustTaskHeaders,
		Logger:                rt.Log.Named("directory"),
		Freshness:             rt.Metrics,
		ResyncChanges:         rt.Metrics,
		HistoryRetention:      rt.HistoryRetention,
		Judge:                 !c.NoJudge,
	})
	return &Directory{
		Service: Service{Name: "directory", Routes: []string{"/tasks/directory/", "/cron/directory/"}, Handler: rt.recordingFigures("directory", newPublishing(rt, w.Handler()))},
		Worker:  w,
	}, nil
}
