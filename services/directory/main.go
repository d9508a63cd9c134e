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
	"time"

	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and GOOGLE_CLOUD_PROJECT, app.yaml the rest.
type Config struct {
	service.GoogleConfig
	wiring.DirectoryConfig
	// PubSubTopic (projects/P/topics/T) receives the change feed; empty keeps it HTTP only.
	PubSubTopic string
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(service.Env(name, "")); err == nil {
		return d
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	c := Config{DirectoryConfig: wiring.DefaultDirectory()}
	fs := flag.NewFlagSet("directory", flag.ContinueOnError)
	c.Flags(fs)
	fs.StringVar(&c.Customer, "customer", service.Env("GREEP_CUSTOMER", c.Customer), "the Workspace customer to list (env GREEP_CUSTOMER)")
	fs.DurationVar(&c.ResyncEvery, "resync-every", envDuration("GREEP_RESYNC_EVERY", c.ResyncEvery), "the resync cron's period (env GREEP_RESYNC_EVERY; keep equal to cron.yaml)")
	fs.DurationVar(&c.MaxAge, "max-age", envDuration("GREEP_MAX_AGE", c.MaxAge), "oldest any group's members may get (env GREEP_MAX_AGE)")
	fs.StringVar(&c.PubSubTopic, "pubsub-topic", service.Env("GREEP_PUBSUB_TOPIC", ""), "publish the change feed to this Pub/Sub topic, projects/P/topics/T; empty: HTTP feed only (env GREEP_PUBSUB_TOPIC)")
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.PubSubTopic != "" {
		if _, err := wiring.TopicProject(c.PubSubTopic); err != nil {
			return c, fmt.Errorf("--pubsub-topic: %w", err)
		}
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
	return service.Run(ctx, "directory", cfg.Config, func(ctx context.Context, rt *wiring.Runtime) (*wiring.Service, error) {
		if err := rt.ConnectGoogle(ctx, cfg.Google.Config()); err != nil {
			return nil, err
		}
		if cfg.PubSubTopic != "" {
			if _, err := rt.ConnectPubSub(ctx, cfg.PubSubTopic); err != nil {
				return nil, err
			}
		}
		return build(rt, cfg)
	})
}

// build is the service on its runtime, by the constructor greep local calls too.
func build(rt *wiring.Runtime, cfg Config) (*wiring.Service, error) {
	d, err := wiring.NewDirectory(rt, cfg.DirectoryConfig)
	if err != nil {
		return nil, err
	}
	return &d.Service, nil
}
