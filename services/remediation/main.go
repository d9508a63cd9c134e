// Command remediation is the App Engine service that evaluates groups against the
// remediation rules, records findings, sends notifications and queues patches (see
// pkg/remediation). It calls no Google API. It only wires the rules and pkg/remediation
// onto the shared runtime (pkg/service).
package main

import (
	"context"
	"flag"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.Config
	service.RulesFile
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("remediation", flag.ContinueOnError)
	c.Config.Flags(fs)
	c.RulesFile.Flags(fs)
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	if err := c.RulesFile.Validate(); err != nil {
		return c, err
	}
	return c, c.Config.Validate()
}

func main() { service.Main("remediation", realMain) }

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
	return service.Run(ctx, "remediation", cfg.Config, func(_ context.Context, rt *wiring.Runtime) (*wiring.Service, error) {
		rt.Log.Info("remediation", zap.String("rules", cfg.Rules), zap.String("mode", orDefault(cfg.Mode, rc.Mode)))
		return build(rt, cfg, rc)
	})
}

// build is the service on its runtime, by the constructor greep local calls too.
func build(rt *wiring.Runtime, cfg Config, rc *rules.Config) (*wiring.Service, error) {
	r, err := wiring.NewRemediation(rt, wiring.RulesConfig{Rules: rc, Mode: cfg.Mode})
	if err != nil {
		return nil, err
	}
	return &r.Service, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
