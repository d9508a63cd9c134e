// Command push is the App Engine service the Reports API's watch channels deliver to
// (POST /push/notify, see pkg/push). It only wires: configuration from flags and the
// environment, the store, the queue, pkg/push.
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

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/greephq/greep/pkg/logging"
	"github.com/greephq/greep/pkg/push"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	Addr     string
	Debounce time.Duration
	Backend  Backend
	Human    bool
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", ":"+env("PORT", "8080"), "listen address (env PORT gives the port)")
	debounce := fs.String("debounce", env("GREEP_DEBOUNCE", push.DefaultDebounce.String()), "window over which events on one group make one refresh (env GREEP_DEBOUNCE)")
	c.Backend.flags(fs)
	fs.BoolVar(&c.Human, "human-logs", os.Getenv("GAE_ENV") == "", "human-readable logs (default off on App Engine)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	d, err := time.ParseDuration(*debounce)
	if err != nil || d <= 0 {
		return c, fmt.Errorf("--debounce %q: want a positive duration such as 2m", *debounce)
	}
	c.Debounce = d
	return c, c.Backend.validate()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "push:", err)
		os.Exit(2)
	}
	log := logging.New(cfg.Human, zapcore.InfoLevel)
	defer log.Sync()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("push stopped", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *zap.Logger) error {
	store, q, _, closeAll, err := cfg.Backend.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	r := chi.NewRouter()
	r.Handle(push.Path, push.New(store, q, push.Config{Debounce: cfg.Debounce, Log: log}))
	srv := &http.Server{Addr: cfg.Addr, Handler: r, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving the push webhook", zap.String("addr", cfg.Addr), zap.Duration("debounce", cfg.Debounce))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
