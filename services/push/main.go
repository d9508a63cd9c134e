// Command push is the App Engine service the Reports API's watch channels deliver to
// (POST /push/notify, see pkg/push). It answers from Datastore and Cloud Tasks only and
// never calls Google. It only wires pkg/push onto the shared runtime (pkg/service).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/service"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.Config
	Debounce time.Duration
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	c.Flags(fs)
	debounce := fs.String("debounce", service.Env("GREEP_DEBOUNCE", push.DefaultDebounce.String()), "window over which events on one group make one refresh (env GREEP_DEBOUNCE)")
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
	return service.Run(ctx, "push", cfg.Config, func(b *service.Backend, log *zap.Logger) (http.Handler, error) {
		r := chi.NewRouter()
		r.Handle(push.Path, push.New(b.Store, b.Queue, push.Config{Debounce: cfg.Debounce, Log: log}))
		log.Info("push webhook", zap.Duration("debounce", cfg.Debounce))
		return r, nil
	})
}
