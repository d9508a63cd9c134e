// Command groupssettings is the App Engine service that alone calls the Groups Settings
// API: one GET or one PATCH per task from its queues (see pkg/settingsworker). It only
// wires: configuration from flags and the environment, the store, the queue, the Google
// client with the one-call budget and the daily quota guard.
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

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/logging"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/settingsworker"
	"github.com/greephq/greep/pkg/workspace"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	Addr           string
	Workspace      string // a simulator's URL, or "" for Google
	AdminSubject   string
	ServiceAccount string
	Backend        Backend
	Human          bool
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("groupssettings", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", ":"+env("PORT", "8080"), "listen address (env PORT gives the port)")
	fs.StringVar(&c.Workspace, "workspace", env("GREEP_WORKSPACE", ""), "a Workspace simulator's URL; empty for Google (env GREEP_WORKSPACE)")
	fs.StringVar(&c.AdminSubject, "admin-subject", env("GREEP_ADMIN_SUBJECT", ""), "the admin Greep acts as (env GREEP_ADMIN_SUBJECT)")
	fs.StringVar(&c.ServiceAccount, "service-account", env("GREEP_SERVICE_ACCOUNT", ""), "the domain-wide delegated service account (env GREEP_SERVICE_ACCOUNT)")
	c.Backend.flags(fs)
	fs.BoolVar(&c.Human, "human-logs", os.Getenv("GAE_ENV") == "", "human-readable logs (default off on App Engine)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.AdminSubject == "" {
		return c, fmt.Errorf("--admin-subject is required")
	}
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
		fmt.Fprintln(os.Stderr, "groupssettings:", err)
		os.Exit(2)
	}
	log := logging.New(cfg.Human, zapcore.InfoLevel)
	defer log.Sync()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("groupssettings stopped", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *zap.Logger) error {
	store, q, qcfg, closeAll, err := cfg.Backend.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	guard := quota.New(store, qcfg)
	clients, err := workspace.New(ctx, workspace.Config{
		Endpoint:       cfg.Workspace,
		AdminSubject:   cfg.AdminSubject,
		ServiceAccount: cfg.ServiceAccount,
		Wrap:           callbudget.Wrap(guard),
	})
	if err != nil {
		return err
	}
	w := settingsworker.New(settingsworker.Config{
		Store:                 store,
		Settings:              clients.Settings,
		Queue:                 q,
		TrustAppEngineHeaders: os.Getenv("GAE_ENV") != "",
		Logger:                log,
	})
	srv := &http.Server{Addr: cfg.Addr, Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving groupssettings", zap.String("addr", cfg.Addr))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
