// Command directory is the App Engine service that alone calls the Directory API: one
// call per task from its queues (directory for push-driven refreshes, directory-sweep for
// full syncs and resyncs), and the resync cron (see pkg/directory). It only wires:
// configuration from flags and the environment, the store, the queue, the Google client
// with the one-call budget and the daily quota guard.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/greephq/greep/pkg/cache/datastore"
	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/logging"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and GOOGLE_CLOUD_PROJECT, app.yaml the rest.
type Config struct {
	Addr           string
	Project        string // Datastore and Cloud Tasks
	Location       string // Cloud Tasks location (the App Engine region)
	Queues         string // queues.yaml
	Workspace      string // a simulator's URL, or "" for Google
	AdminSubject   string
	ServiceAccount string
	Customer       string
	ResyncEvery    time.Duration // how often cron calls the resync: sizes the rolling slice
	MaxAge         time.Duration
	Human          bool
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("directory", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", ":"+env("PORT", "8080"), "listen address (env PORT gives the port)")
	fs.StringVar(&c.Project, "project", env("GOOGLE_CLOUD_PROJECT", ""), "Google Cloud project (env GOOGLE_CLOUD_PROJECT, set by App Engine)")
	fs.StringVar(&c.Location, "location", env("GREEP_TASKS_LOCATION", ""), "Cloud Tasks location, the App Engine region (env GREEP_TASKS_LOCATION)")
	fs.StringVar(&c.Queues, "queues", env("GREEP_QUEUES", "queues.yaml"), "queues file (env GREEP_QUEUES)")
	fs.StringVar(&c.Workspace, "workspace", env("GREEP_WORKSPACE", ""), "a Workspace simulator's URL; empty for Google (env GREEP_WORKSPACE)")
	fs.StringVar(&c.AdminSubject, "admin-subject", env("GREEP_ADMIN_SUBJECT", ""), "the admin Greep acts as (env GREEP_ADMIN_SUBJECT)")
	fs.StringVar(&c.ServiceAccount, "service-account", env("GREEP_SERVICE_ACCOUNT", ""), "the domain-wide delegated service account (env GREEP_SERVICE_ACCOUNT)")
	fs.StringVar(&c.Customer, "customer", env("GREEP_CUSTOMER", "my_customer"), "the Workspace customer to list (env GREEP_CUSTOMER)")
	fs.DurationVar(&c.ResyncEvery, "resync-every", envDuration("GREEP_RESYNC_EVERY", time.Hour), "the resync cron's period (env GREEP_RESYNC_EVERY; keep equal to cron.yaml)")
	fs.DurationVar(&c.MaxAge, "max-age", envDuration("GREEP_MAX_AGE", 24*time.Hour), "oldest any group's members may get (env GREEP_MAX_AGE)")
	fs.BoolVar(&c.Human, "human-logs", os.Getenv("GAE_ENV") == "", "human-readable logs (default off on App Engine)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.AdminSubject == "":
		return c, errors.New("--admin-subject is required")
	case c.Project == "" || c.Location == "":
		return c, errors.New("--project and --location are required (Datastore and Cloud Tasks)")
	case c.ResyncEvery <= 0 || c.MaxAge < c.ResyncEvery:
		return c, fmt.Errorf("--resync-every %v must be positive and --max-age %v at least as long", c.ResyncEvery, c.MaxAge)
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "directory:", err)
		os.Exit(2)
	}
	log := logging.New(cfg.Human, zapcore.InfoLevel)
	defer log.Sync() //nolint:errcheck // stderr may not sync
	if err := run(ctx, cfg, log); err != nil {
		log.Error("directory stopped", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *zap.Logger) error {
	qcfg, err := queueconfig.Load(cfg.Queues)
	if err != nil {
		return err
	}
	store, err := datastore.Open(ctx, cfg.Project, "")
	if err != nil {
		return err
	}
	defer store.Close()
	client, err := cloudtasks.NewClient(ctx, "")
	if err != nil {
		return err
	}
	defer client.Close()
	q, err := cloudtasks.NewEnqueuer(client, cloudtasks.Location{Project: cfg.Project, Location: cfg.Location}, qcfg)
	if err != nil {
		return err
	}
	guard := quota.New(store, qcfg)
	clients, err := workspace.New(ctx, workspace.Config{
		Endpoint: cfg.Workspace, AdminSubject: cfg.AdminSubject, ServiceAccount: cfg.ServiceAccount,
		Wrap: callbudget.Wrap(guard),
	})
	if err != nil {
		return err
	}
	w := directory.New(directory.Config{
		Store: store, Directory: clients.Directory, Queue: q, Customer: cfg.Customer,
		SweepQueue: tasks.QueueDirectorySweep, PushQueue: tasks.QueueDirectory,
		Resync:                syncplan.Resync{Every: cfg.ResyncEvery, MaxAge: cfg.MaxAge},
		NextReset:             func(t time.Time) time.Time { _, r := guard.Day(t); return r },
		Refused:               quota.ResetAfter,
		TrustAppEngineHeaders: os.Getenv("GAE_ENV") != "",
		Logger:                log,
	})
	srv := &http.Server{Addr: cfg.Addr, Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving directory", zap.String("addr", cfg.Addr))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// App Engine gives an instance a few seconds after SIGTERM; an unfinished task is
	// retried by Cloud Tasks.
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
