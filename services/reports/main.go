// Command reports is the App Engine service that keeps the Reports API watch channels
// (see pkg/reports): the only caller of the Reports API, driven by its queue and by the
// cron entry in deploy/cron.yaml. It only wires: configuration from flags and the
// environment, the store, the queue, the Google clients behind the call budget, and
// pkg/reports.
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
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/workspace"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and GOOGLE_CLOUD_PROJECT, app.yaml the
// rest.
type Config struct {
	Addr           string
	Address        string // the webhook's public URL
	AdminSubject   string
	ServiceAccount string
	Lifetime       time.Duration
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
	fs := flag.NewFlagSet("reports", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", ":"+env("PORT", "8080"), "listen address (env PORT gives the port)")
	fs.StringVar(&c.Address, "push-address", env("GREEP_PUSH_ADDRESS", ""), "public HTTPS URL of the webhook, https://HOST/push/notify (env GREEP_PUSH_ADDRESS)")
	fs.StringVar(&c.AdminSubject, "admin-subject", env("GREEP_ADMIN_SUBJECT", ""), "admin user Greep acts as (env GREEP_ADMIN_SUBJECT)")
	fs.StringVar(&c.ServiceAccount, "service-account", env("GREEP_SERVICE_ACCOUNT", ""), "delegated service account, impersonated without a key (env GREEP_SERVICE_ACCOUNT)")
	lifetime := fs.String("channel-lifetime", env("GREEP_CHANNEL_LIFETIME", reports.MaxLifetime.String()), "lifetime asked for each watch channel, at most 6h (env GREEP_CHANNEL_LIFETIME)")
	c.Backend.flags(fs)
	fs.BoolVar(&c.Human, "human-logs", os.Getenv("GAE_ENV") == "", "human-readable logs (default off on App Engine)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	d, err := time.ParseDuration(*lifetime)
	if err != nil {
		return c, fmt.Errorf("--channel-lifetime %q: %v", *lifetime, err)
	}
	c.Lifetime = d
	if c.Address == "" {
		return c, errors.New("--push-address is required: the webhook URL Google delivers to")
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
		fmt.Fprintln(os.Stderr, "reports:", err)
		os.Exit(2)
	}
	log := logging.New(cfg.Human, zapcore.InfoLevel)
	defer log.Sync()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("reports stopped", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *zap.Logger) error {
	store, q, queues, closeAll, err := cfg.Backend.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	clients, err := workspace.New(ctx, workspace.Config{
		AdminSubject:   cfg.AdminSubject,
		ServiceAccount: cfg.ServiceAccount,
		Wrap:           callbudget.Wrap(quota.New(store, queues)),
	})
	if err != nil {
		return err
	}
	w, err := reports.New(store, clients.Reports, q, reports.Config{
		Address: cfg.Address,
		Policy:  reports.Policy{Lifetime: cfg.Lifetime},
		Log:     log,
	})
	if err != nil {
		return err
	}
	// App Engine strips the task and cron headers from outside requests; nowhere else may
	// they be trusted.
	onAppEngine := os.Getenv("GAE_ENV") == "standard"
	srv := &http.Server{Addr: cfg.Addr, Handler: w.Handler(onAppEngine), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving the reports worker", zap.String("addr", cfg.Addr), zap.String("pushAddress", cfg.Address))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
