// Command push is the App Engine service the Reports API's watch channels deliver to
// (POST /push/notify, see pkg/push). It answers from Datastore and Cloud Tasks only and
// never calls Google. It only wires pkg/push onto the shared runtime (pkg/service).
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.Config
	wiring.PushConfig
}

func parseConfig(args []string) (Config, error) {
	c := Config{PushConfig: wiring.DefaultPush()}
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	c.Flags(fs)
	debounce := fs.String("debounce", service.Env("GREEP_DEBOUNCE", c.Debounce.String()), "window over which events on one group make one refresh (env GREEP_DEBOUNCE)")
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	d, err := time.ParseDuration(*debounce)
	if err != nil || d <= 0 {
		return c, fmt.Errorf("--debounce %q: want a positive duration such as 2m", *debounce)
	}
	c.Debounce = d
	return c, c.Validate()
}

func main() { service.Main("push", realMain) }

func realMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	return service.Run(ctx, "push", cfg.Config, func(_ context.Context, rt *wiring.Runtime) (*wiring.Service, error) {
		rt.Log.Info("push webhook", zap.Duration("debounce", cfg.Debounce))
		return build(rt, cfg)
	})
}

// build is the service on its runtime, by the constructor greep local calls too.
func build(rt *wiring.Runtime, cfg Config) (*wiring.Service, error) {
	return wiring.NewPush(rt, cfg.PushConfig), nil
}
