// Command groupssettings is the App Engine service that alone calls the Groups Settings
// API: one GET or one PATCH per task from its queues (see pkg/settingsworker). It only
// wires pkg/settingsworker onto the shared runtime (pkg/service), its Google client behind
// the one-call budget and the daily quota guard. It loads the remediation rules too: each
// patch is re-checked against them, the mode and the exemptions before it is sent.
package main

import (
	"context"
	"flag"

	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.GoogleConfig
	service.RulesFile
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("groupssettings", flag.ContinueOnError)
	c.GoogleConfig.Flags(fs)
	c.RulesFile.Flags(fs)
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	if err := c.RulesFile.Validate(); err != nil {
		return c, err
	}
	return c, c.GoogleConfig.Validate()
}

func main() { service.Main("groupssettings", realMain) }

func realMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	// Invalid rules stop the service here, with the line named, before it connects
	// anywhere or any task runs.
	rc, err := cfg.RulesFile.Load()
	if err != nil {
		return err
	}
	return service.Run(ctx, "groupssettings", cfg.Config, func(ctx context.Context, rt *wiring.Runtime) (*wiring.Service, error) {
		if err := rt.ConnectGoogle(ctx, cfg.Google.Config()); err != nil {
			return nil, err
		}
		return build(rt, cfg, rc)
	})
}

// build is the service on its runtime, by the constructor greep local calls too.
func build(rt *wiring.Runtime, cfg Config, rc *rules.Config) (*wiring.Service, error) {
	return wiring.NewGroupsSettings(rt, wiring.RulesConfig{Rules: rc, Mode: cfg.Mode})
}
