package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
)

// Backend is where the service keeps state and hands work on: on App Engine, Cloud
// Datastore and Cloud Tasks, the only store and queue it shares with the other services.
// (greep local mounts the packages in one process with the embedded store and the local
// dispatcher instead; it does not run this command.)
type Backend struct {
	Project  string // Google Cloud project (Datastore and Cloud Tasks)
	Location string // Cloud Tasks location (the App Engine region)
	Queues   string // queues.yaml, which names the lanes the tasks go to
}

func (b *Backend) flags(fs *flag.FlagSet) {
	fs.StringVar(&b.Project, "project", env("GOOGLE_CLOUD_PROJECT", ""), "Google Cloud project (env GOOGLE_CLOUD_PROJECT, set by App Engine)")
	fs.StringVar(&b.Location, "location", env("GREEP_TASKS_LOCATION", ""), "Cloud Tasks location, the App Engine region (env GREEP_TASKS_LOCATION)")
	fs.StringVar(&b.Queues, "queues", env("GREEP_QUEUES", "queues.yaml"), "queues file (env GREEP_QUEUES)")
}

func (b Backend) validate() error {
	if b.Project == "" || b.Location == "" {
		return fmt.Errorf("--project and --location are required (Datastore and Cloud Tasks)")
	}
	return nil
}

// open connects the store and the queue and returns a function that closes them.
func (b Backend) open(ctx context.Context) (greep.Store, queue.Enqueuer, func(), error) {
	// pkg/cache/datastore and pkg/queue/cloudtasks are being built in parallel; until they
	// are in the tree the service cannot start on its own.
	return nil, nil, nil, errors.New("the Datastore store and the Cloud Tasks enqueuer are not in the tree yet")
}
