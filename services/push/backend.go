package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
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

// open loads queues.yaml and connects the store and the queue; closeAll releases them.
func (b Backend) open(ctx context.Context) (store greep.Store, q queue.Enqueuer, qcfg *queueconfig.Config, closeAll func(), err error) {
	qcfg, err = queueconfig.Load(b.Queues)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	client, err := cloudtasks.NewClient(ctx, "")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	enq, err := cloudtasks.NewEnqueuer(client, cloudtasks.Location{Project: b.Project, Location: b.Location}, qcfg)
	if err != nil {
		client.Close()
		return nil, nil, nil, nil, err
	}
	store, err = openDatastore(ctx, b.Project)
	if err != nil {
		client.Close()
		return nil, nil, nil, nil, err
	}
	return store, enq, qcfg, func() { store.Close(); client.Close() }, nil
}

// openDatastore opens the production store. pkg/cache/datastore is being built in
// parallel; until it is in the tree the service cannot start on its own.
func openDatastore(ctx context.Context, project string) (greep.Store, error) {
	return nil, errors.New("the Datastore store (pkg/cache/datastore) is not in the tree yet")
}
