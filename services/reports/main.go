// Command reports is the App Engine service that keeps the Reports API watch channels
// (see pkg/reports): the only caller of the Reports API, driven by its queue and by the
// cron entry in deploy/cron.yaml. It only wires pkg/reports onto the shared runtime
// (pkg/service), its Google client behind the call budget and the daily quota guard.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and GOOGLE_CLOUD_PROJECT, app.yaml the
// rest.
type Config struct {
	service.GoogleConfig
	wiring.ReportsConfig
}

func parseConfig(args []string) (Config, error) {
	c := Config{ReportsConfig: wiring.DefaultReports()}
	fs := flag.NewFlagSet("reports", flag.ContinueOnError)
	c.Flags(fs)
	fs.StringVar(&c.Address, "push-address", service.Env("GREEP_PUSH_ADDRESS", ""), "public HTTPS URL of the webhook, https://HOST/push/notify (env GREEP_PUSH_ADDRESS)")
	debounce := fs.String("debounce", service.Env("GREEP_DEBOUNCE", c.Debounce.String()), "debounce of the refreshes the backfill enqueues, as the push service's (env GREEP_DEBOUNCE)")
	lifetime := fs.String("channel-lifetime", service.Env("GREEP_CHANNEL_LIFETIME", c.Lifetime.String()), "lifetime asked for each watch channel, at most 6h (env GREEP_CHANNEL_LIFETIME)")
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	d, err := time.ParseDuration(*lifetime)
	if err != nil {
		return c, fmt.Errorf("--channel-lifetime %q: %v", *lifetime, err)
	}
	c.Lifetime = d
	if c.Debounce, err = time.ParseDuration(*debounce); err != nil || c.Debounce <= 0 {
		return c, fmt.Errorf("--debounce %q: want a positive duration such as 2m", *debounce)
	}
	if c.Address == "" {
		return c, errors.New("--push-address is required: the webhook URL Google delivers to")
	}
	return c, c.Validate()
}

func main() { service.Main("reports", realMain) }

func realMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	return service.Run(ctx, "reports", cfg.Config, func(ctx context.Context, rt *wiring.Runtime) (*wiring.Service, error) {
		if err := rt.ConnectGoogle(ctx, cfg.Google.Config()); err != nil {
			return nil, err
		}
		rt.Log.Info("reports worker", zap.String("pushAddress", cfg.Address))
		return build(rt, cfg)
	})
}

// build is the service on its runtime, by the constructor greep local calls too.
func build(rt *wiring.Runtime, cfg Config) (*wiring.Service, error) {
	r, err := wiring.NewReports(rt, cfg.ReportsConfig)
	if err != nil {
		return nil, err
	}
	return &r.Service, nil
}
