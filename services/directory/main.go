// Command directory is the App Engine service that alone calls the Directory API: one
// call per task from its queues (directory for push-driven refreshes, directory-sweep for
// full syncs and resyncs), and the resync cron (see pkg/directory). It only wires
// pkg/directory onto the shared runtime (pkg/service), its Google client behind the
// one-call budget and the daily quota guard.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and GOOGLE_CLOUD_PROJECT, app.yaml the rest.
type Config struct {
	service.GoogleConfig
	Customer    string
	ResyncEvery time.Duration // how often cron calls the resync: sizes the rolling slice
	MaxAge      time.Duration
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(service.Env(name, "")); err == nil {
		return d
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("directory", flag.ContinueOnError)
	c.Flags(fs)
	fs.StringVar(&c.Customer, "customer", service.Env("GREEP_CUSTOMER", "my_customer"), "the Workspace customer to list (env GREEP_CUSTOMER)")
	fs.DurationVar(&c.ResyncEvery, "resync-every", envDuration("GREEP_RESYNC_EVERY", time.Hour), "the resync cron's period (env GREEP_RESYNC_EVERY; keep equal to cron.yaml)")
	fs.DurationVar(&c.MaxAge, "max-age", envDuration("GREEP_MAX_AGE", 24*time.Hour), "oldest any group's members may get (env GREEP_MAX_AGE)")
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.ResyncEvery <= 0 || c.MaxAge < c.ResyncEvery {
		return c, fmt.Errorf("--resync-every %v must be positive and --max-age %v at least as long", c.ResyncEvery, c.MaxAge)
	}
	return c, nil
}

func main() { service.Main("directory", realMain) }

func realMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	return service.Run(ctx, "directory", cfg.Config, func(b *service.Backend, log *zap.Logger) (http.Handler, error) {
		clients, err := b.Google(ctx, cfg.Google)
		if err != nil {
			return nil, err
		}
		return directory.New(directory.Config{
			Store: b.Store, Directory: clients.Directory, Queue: b.Queue, Customer: cfg.Customer,
			SweepQueue: tasks.QueueDirectorySweep, PushQueue: tasks.QueueDirectory,
			Resync:                syncplan.Resync{Every: cfg.ResyncEvery, MaxAge: cfg.MaxAge},
			NextReset:             func(t time.Time) time.Time { _, r := b.Quota.Day(t); return r },
			Refused:               quota.ResetAfter,
			TrustAppEngineHeaders: service.TrustTaskHeaders(),
			Logger:                log,
		}).Handler(), nil
	})
}
