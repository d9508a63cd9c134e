// Package service is the shared runtime of Greep's App Engine services: the
// configuration every service reads from flags and the environment, the production
// backend they share (Cloud Datastore, Cloud Tasks, queues.yaml, the daily quota guard and
// the Google clients behind it), and serving with a graceful stop on SIGTERM. Each
// services/<name> command only adds its own settings and builds its package's handler.
//
// greep local mounts the same packages in one process with the embedded store and the
// local dispatcher instead; it does not use this package.
package service

import (
	"cmp"
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
)

// Main runs realMain with a context cancelled by SIGTERM (App Engine stopping the
// instance) or an interrupt, and exits non-zero if it fails: 2 when -help was asked for.
func Main(name string, realMain func(ctx context.Context, args []string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:])
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// OnAppEngine reports whether the process runs on App Engine standard, which strips the
// task and cron headers (X-AppEngine-QueueName, X-Appengine-Cron) from outside requests:
// nowhere else may a handler trust them.
func OnAppEngine() bool { return os.Getenv("GAE_ENV") == "standard" }

// TrustTaskHeaders reports whether the task and cron headers can be trusted: on App Engine,
// or behind greep cluster's front, which strips them from outside requests as App Engine
// does and sets GREEP_TRUST_TASK_HEADERS=true for the services it starts.
func TrustTaskHeaders() bool {
	return OnAppEngine() || os.Getenv("GREEP_TRUST_TASK_HEADERS") == "true"
}

// Env is the environment variable name, or def when it is unset or empty: the default of
// a flag, so that the flag wins over app.yaml's env_variables.
func Env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Parse parses args with fs and refuses positional arguments, which no service takes.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// Server is how a service listens and logs.
type Server struct {
	Addr  string // listen address; ":$PORT" on App Engine
	Level string // the lowest log level written: debug, info, warn or error
	Human bool   // human-readable logs instead of Cloud Logging's JSON
}

// Flags registers --addr, --log-level and --human-logs, defaulting from PORT,
// GREEP_LOG_LEVEL and GAE_ENV.
func (s *Server) Flags(fs *flag.FlagSet) {
	fs.StringVar(&s.Addr, "addr", ":"+Env("PORT", "8080"), "listen address (env PORT gives the port)")
	fs.StringVar(&s.Level, "log-level", Env("GREEP_LOG_LEVEL", "info"), "lowest log level written: debug, info, warn or error (env GREEP_LOG_LEVEL)")
	fs.BoolVar(&s.Human, "human-logs", !OnAppEngine(), "human-readable logs (default off on App Engine)")
}

// Validate refuses an unknown log level.
func (s Server) Validate() error {
	_, err := s.level()
	return err
}

func (s Server) level() (zapcore.Level, error) {
	l, err := zapcore.ParseLevel(s.Level)
	if err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", s.Level)
	}
	return l, nil
}

// Logger is the service's logger at the configured level (info if Validate was skipped).
func (s Server) Logger() *zap.Logger {
	l, err := s.level()
	if err != nil {
		l = zapcore.InfoLevel
	}
	return logging.New(s.Human, l)
}

// shutdownGrace is how long Serve lets requests in flight finish after ctx ends: App
// Engine gives an instance a few seconds after SIGTERM, and an unfinished task is retried
// by Cloud Tasks.
const shutdownGrace = 5 * time.Second

// Timeouts bound how long a client may hold a connection: a slow or idle client cannot
// hold a connection (and an instance, or greep local's file descriptors) open. Zero
// fields take DefaultTimeouts'.
type Timeouts struct {
	ReadHeader time.Duration // the request line and headers
	Read       time.Duration // the whole request, body included
	Idle       time.Duration // a keep-alive connection between requests
}

// DefaultTimeouts are every Greep server's: the App Engine services' and greep local's.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Idle: 2 * time.Minute}

// HTTPServer is the one way Greep serves HTTP, with the timeouts t (defaults for zero
// fields); production's services and greep local both use it.
func HTTPServer(h http.Handler, t Timeouts) *http.Server {
	d := DefaultTimeouts
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cmp.Or(t.ReadHeader, d.ReadHeader),
		ReadTimeout:       cmp.Or(t.Read, d.Read),
		IdleTimeout:       cmp.Or(t.Idle, d.Idle),
	}
}

// Serve serves h on s.Addr until ctx ends, then stops accepting connections and waits up
// to a few seconds for the requests in flight. It returns nil after a clean stop.
func (s Server) Serve(ctx context.Context, h http.Handler, log *zap.Logger) error {
	srv := HTTPServer(h, Timeouts{})
	srv.Addr = s.Addr
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving", zap.String("addr", s.Addr))
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", s.Addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("graceful stop: %w", err)
	}
	log.Info("stopped")
	return nil
}
