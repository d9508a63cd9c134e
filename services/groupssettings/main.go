// Command groupssettings is the App Engine service that alone calls the Groups Settings
// API: one GET or one PATCH per task from its queues (see pkg/settingsworker). It only
// wires pkg/settingsworker onto the shared runtime (pkg/service), its Google client behind
// the one-call budget and the daily quota guard.
package main

import (
	"context"
	"flag"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/settingsworker"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.Config
	service.Google
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("groupssettings", flag.ContinueOnError)
	c.Config.Flags(fs)
	c.Google.Flags(fs)
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	if err := c.Google.Validate(); err != nil {
		return c, err
	}
	return c, c.Config.Validate()
}

func main() { service.Main("groupssettings", realMain) }

func realMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	log := cfg.Logger().With(zap.String("service", "groupssettings"))
	defer log.Sync() //nolint:errcheck // stderr may not sync
	b, err := service.Open(ctx, cfg.Config)
	if err != nil {
		return err
	}
	defer b.Close()
	clients, err := b.Google(ctx, cfg.Google)
	if err != nil {
		return err
	}
	w := settingsworker.New(settingsworker.Config{
		Store:                 b.Store,
		Settings:              clients.Settings,
		Queue:                 b.Queue,
		TrustAppEngineHeaders: service.OnAppEngine(),
		Logger:                log,
	})
	return cfg.Serve(ctx, w.Handler(), log)
}
