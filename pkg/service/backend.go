package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/workspace"
)

// Config is the configuration of a service on the shared production backend: the
// services keep state in one Cloud Datastore and hand work on through Cloud Tasks.
// Embed it in a service's own Config.
type Config struct {
	Server
	History
	Project  string // Google Cloud project (Datastore and Cloud Tasks)
	Location string // Cloud Tasks location (the App Engine region)
	Queues   string // queues.yaml, which names the lanes and the daily API quotas

	// TasksEndpoint is a Cloud Tasks server on loopback (the project's emulator, run by
	// greep cluster and tests) spoken to without credentials; "" is Google's.
	TasksEndpoint string
}

// Flags registers the Server's flags and --project, --location and --queues, defaulting
// from GOOGLE_CLOUD_PROJECT (set by App Engine), GREEP_TASKS_LOCATION and GREEP_QUEUES.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Server.Flags(fs)
	c.History.Flags(fs)
	fs.StringVar(&c.Project, "project", Env("GOOGLE_CLOUD_PROJECT", ""), "Google Cloud project (env GOOGLE_CLOUD_PROJECT, set by App Engine)")
	fs.StringVar(&c.Location, "location", Env("GREEP_TASKS_LOCATION", ""), "Cloud Tasks location, the App Engine region (env GREEP_TASKS_LOCATION)")
	fs.StringVar(&c.Queues, "queues", Env("GREEP_QUEUES", "queues.yaml"), "queues file (env GREEP_QUEUES)")
	fs.StringVar(&c.TasksEndpoint, "tasks-endpoint", Env("GREEP_TASKS_ENDPOINT", ""), "a Cloud Tasks emulator's gRPC address on loopback, spoken to without credentials; empty for Google (env GREEP_TASKS_ENDPOINT)")
}

// Validate refuses a configuration Open cannot work with.
func (c Config) Validate() error {
	if c.Project == "" || c.Location == "" {
		return errors.New("--project and --location are required (Datastore and Cloud Tasks)")
	}
	if err := c.History.Validate(); err != nil {
		return err
	}
	return c.Server.Validate()
}

// Google is the configuration of a service that calls Google's Workspace APIs. Embed it
// next to Config.
type Google struct {
	Workspace      string // a Workspace simulator's URL, or "" for Google
	AdminSubject   string // the admin Greep acts as (domain-wide delegation)
	ServiceAccount string // the delegated service account, impersonated without a key
}

// Flags registers --workspace, --admin-subject and --service-account.
func (g *Google) Flags(fs *flag.FlagSet) {
	fs.StringVar(&g.Workspace, "workspace", Env("GREEP_WORKSPACE", ""), "a Workspace simulator's URL; empty for Google (env GREEP_WORKSPACE)")
	fs.StringVar(&g.AdminSubject, "admin-subject", Env("GREEP_ADMIN_SUBJECT", ""), "the admin Greep acts as (env GREEP_ADMIN_SUBJECT)")
	fs.StringVar(&g.ServiceAccount, "service-account", Env("GREEP_SERVICE_ACCOUNT", ""), "the domain-wide delegated service account, impersonated without a key (env GREEP_SERVICE_ACCOUNT)")
}

// Config is the Workspace clients' configuration (Runtime.ConnectGoogle adds the budget
// and the quota guard).
func (g Google) Config() workspace.Config {
	return workspace.Config{Endpoint: g.Workspace, AdminSubject: g.AdminSubject, ServiceAccount: g.ServiceAccount}
}

// Validate refuses a configuration no Google client can be built from.
func (g Google) Validate() error {
	if g.AdminSubject == "" {
		return errors.New("--admin-subject is required")
	}
	return nil
}

// GoogleConfig is the configuration of a service on the backend that calls Google.
type GoogleConfig struct {
	Config
	Google
}

// Flags registers Config's and Google's flags.
func (c *GoogleConfig) Flags(fs *flag.FlagSet) {
	c.Config.Flags(fs)
	c.Google.Flags(fs)
}

// Validate validates both.
func (c GoogleConfig) Validate() error {
	if err := c.Google.Validate(); err != nil {
		return err
	}
	return c.Config.Validate()
}

// Backend is a service's runtime on the production backend: Cloud Datastore as the
// store, Cloud Tasks as the queue, queues.yaml's lanes and the daily quota guard, on the
// wall clock.
type Backend struct {
	*wiring.Runtime
	close func()
}

// Open loads queues.yaml (first, so that a bad file stops the service before it
// connects anywhere) and connects to Cloud Datastore and Cloud Tasks. Close releases
// them.
func Open(ctx context.Context, c Config, log *zap.Logger) (*Backend, error) {
	qcfg, err := queueconfig.Load(c.Queues)
	if err != nil {
		return nil, err
	}
	store, err := wiring.OpenStore(ctx, wiring.StoreConfig{Kind: wiring.StoreDatastore, Project: c.Project})
	if err != nil {
		return nil, err
	}
	client, err := cloudtasks.NewClient(ctx, c.TasksEndpoint)
	if err != nil {
		store.Close()
		return nil, err
	}
	enq, err := cloudtasks.NewEnqueuer(client, cloudtasks.Location{Project: c.Project, Location: c.Location}, qcfg)
	if err != nil {
		client.Close()
		store.Close()
		return nil, fmt.Errorf("cloudtasks: %w", err)
	}
	rt := wiring.New(store, enq, qcfg, time.Now, log)
	rt.TrustTaskHeaders = TrustTaskHeaders()
	rt.HistoryRetention = c.History.Retention
	release := func() {
		// After the last request: the quota reservations held ahead go back, so the
		// day's count stays the calls made.
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rt.Quota.Release(rctx); err != nil {
			log.Warn("returning held quota reservations", zap.Error(err))
		}
	}
	return &Backend{Runtime: rt, close: func() { release(); client.Close(); store.Close() }}, nil
}

// Close releases the connections.
func (b *Backend) Close() { b.close() }

// Run is a service's life on the backend: it opens the backend (Open), builds the
// service from the runtime with build (a pkg/wiring constructor, the one greep local
// calls too) and serves its routes (Server.Serve) until ctx ends, logging as service
// name; the backend is closed after the last request.
func Run(ctx context.Context, name string, c Config, build func(ctx context.Context, rt *wiring.Runtime) (*wiring.Service, error)) error {
	log := c.Logger().With(zap.String("service", name))
	defer log.Sync() //nolint:errcheck // stderr may not sync
	b, err := Open(ctx, c, log)
	if err != nil {
		return err
	}
	defer b.Close()
	svc, err := build(ctx, b.Runtime)
	if err != nil {
		return err
	}
	mux := &wiring.Routes{}
	svc.Mount(mux)
	return c.Serve(ctx, mux, log)
}
