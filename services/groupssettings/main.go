// Command groupssettings is the App Engine service that alone calls the Groups Settings
// API: one GET or one PATCH per task from its queues (see pkg/settingsworker). It only
// wires pkg/settingsworker onto the shared runtime (pkg/service), its Google client behind
// the one-call budget and the daily quota guard.
package main

import (
	"context"
	"flag"

	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.GoogleConfig
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("groupssettings", flag.ContinueOnError)
	c.Flags(fs)
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func main() { service.Main("groupssettings", realMain) }

func realMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	return service.Run(ctx, "groupssettings", cfg.Config, func(ctx context.Context, rt *wiring.Runtime) (*wiring.Service, error) {
		if err := rt.ConnectGoogle(ctx, cfg.Google.Config()); err != nil {
			return nil, err
		}
		return build(rt, cfg)
	})
}

// build is the service on its runtime, by the constructor greep local calls too.
func build(rt *wiring.Runtime, _ Config) (*wiring.Service, error) {
	return wiring.NewGroupsSettings(rt)
}
