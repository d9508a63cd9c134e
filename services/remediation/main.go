// Command remediation is the App Engine service that evaluates groups against the
// remediation rules, records findings, sends notifications and queues patches (see
// pkg/remediation). It calls no Google API. It only wires: configuration from flags and
// the environment, the rules, the store, the queue.
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

	"github.com/greephq/greep/pkg/logging"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/rules"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	Addr    string
	Rules   string // the rules file
	Mode    string // overrides the rules file's mode when set
	Backend Backend
	Human   bool
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("remediation", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", ":"+env("PORT", "8080"), "listen address (env PORT gives the port)")
	fs.StringVar(&c.Rules, "rules", env("GREEP_RULES", "deploy/remediation.yaml"), "rules file (env GREEP_RULES)")
	fs.StringVar(&c.Mode, "remediation", env("GREEP_REMEDIATION", ""), "detect or remediate, overriding the rules file (env GREEP_REMEDIATION)")
	c.Backend.flags(fs)
	fs.BoolVar(&c.Human, "human-logs", os.Getenv("GAE_ENV") == "", "human-readable logs (default off on App Engine)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Mode != "" && c.Mode != rules.ModeDetect && c.Mode != rules.ModeRemediate {
		return c, fmt.Errorf("--remediation %q: want detect or remediate", c.Mode)
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
		fmt.Fprintln(os.Stderr, "remediation:", err)
		os.Exit(2)
	}
	log := logging.New(cfg.Human, zapcore.InfoLevel)
	defer log.Sync()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("remediation stopped", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *zap.Logger) error {
	// Invalid rules stop the service here, with the line named, before any task runs.
	rc, err := rules.LoadFile(cfg.Rules)
	if err != nil {
		return err
	}
	store, q, qcfg, closeAll, err := cfg.Backend.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	svc := remediation.New(remediation.Config{
		Rules:                 rc,
		Store:                 store,
		Queue:                 q,
		Mode:                  cfg.Mode,
		SliceEvery:            remediation.SliceEvery(qcfg, 200),
		SliceSize:             200,
		Quota:                 quota.New(store, qcfg),
		Queues:                qcfg,
		TrustAppEngineHeaders: os.Getenv("GAE_ENV") != "",
		Logger:                log,
	})
	srv := &http.Server{Addr: cfg.Addr, Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving remediation", zap.String("addr", cfg.Addr), zap.String("rules", cfg.Rules), zap.String("mode", orDefault(cfg.Mode, rc.Mode)))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
