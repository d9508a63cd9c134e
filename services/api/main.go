// Command api is Greep's default App Engine service: the read API, the Directory-compatible
// surface and the dashboard over the cache. It only wires: configuration from flags and
// the environment, the store, the authenticator, pkg/api.
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
	"google.golang.org/api/idtoken"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/cache/datastore"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/logging"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	Addr     string // listen address; ":$PORT" on App Engine
	Store    string // "embedded" (a bbolt file) or "datastore"
	Data     string // the embedded store's file
	Project  string // the Datastore project (GOOGLE_CLOUD_PROJECT on App Engine)
	Clients  string // deploy/clients.yaml: the allowed clients and the audience
	Audience string // overrides clients.yaml's audience
	APIToken string // a static token instead of ID tokens (local use only)
	Human    bool   // human-readable logs instead of Cloud Logging JSON
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", ":"+env("PORT", "8080"), "listen address (env PORT gives the port)")
	fs.StringVar(&c.Store, "store", env("GREEP_STORE", "datastore"), "embedded or datastore (env GREEP_STORE)")
	fs.StringVar(&c.Data, "data", env("GREEP_DATA", ".greep/greep.db"), "embedded store file (env GREEP_DATA)")
	fs.StringVar(&c.Project, "project", env("DATASTORE_PROJECT_ID", os.Getenv("GOOGLE_CLOUD_PROJECT")), "Datastore project (env DATASTORE_PROJECT_ID, else GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&c.Clients, "clients", env("GREEP_CLIENTS", "deploy/clients.yaml"), "allowed clients file (env GREEP_CLIENTS)")
	fs.StringVar(&c.Audience, "audience", env("GREEP_AUDIENCE", ""), "ID token audience, overriding the clients file's (env GREEP_AUDIENCE)")
	fs.StringVar(&c.APIToken, "api-token", env("GREEP_API_TOKEN", ""), "accept this static bearer token instead of ID tokens: local use only (env GREEP_API_TOKEN)")
	fs.BoolVar(&c.Human, "human-logs", os.Getenv("GAE_ENV") == "", "human-readable logs (default off on App Engine)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Store != "embedded" && c.Store != "datastore" {
		return c, fmt.Errorf("--store %q: want embedded or datastore", c.Store)
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(2)
	}
	log := logging.New(cfg.Human, zapcore.InfoLevel)
	defer log.Sync()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("api stopped", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *zap.Logger) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	authn, err := authenticator(ctx, cfg)
	if err != nil {
		return err
	}
	key, err := api.SharedPageTokenKey(ctx, store)
	if err != nil {
		return err
	}
	h, err := api.New(api.Config{Store: store, Auth: authn, Logger: log, PageTokenKey: key})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: cfg.Addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving the read API", zap.String("addr", cfg.Addr), zap.String("store", cfg.Store))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// App Engine gives an instance a few seconds after SIGTERM.
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func openStore(ctx context.Context, cfg Config) (greep.Store, error) {
	switch cfg.Store {
	case "embedded":
		return bolt.Open(cfg.Data)
	default:
		return datastore.Open(ctx, cfg.Project, "")
	}
}

func authenticator(ctx context.Context, cfg Config) (auth.Authenticator, error) {
	if cfg.APIToken != "" {
		if os.Getenv("GAE_ENV") != "" {
			return nil, errors.New("a static --api-token is for local use; on App Engine clients use ID tokens")
		}
		return auth.NewStaticToken(cfg.APIToken)
	}
	clients, err := auth.LoadClients(cfg.Clients)
	if err != nil {
		return nil, err
	}
	if cfg.Audience != "" {
		clients.Audience = cfg.Audience
	}
	v, err := idtoken.NewValidator(ctx)
	if err != nil {
		return nil, fmt.Errorf("ID token validator: %w", err)
	}
	return auth.NewIDToken(clients, v), nil
}
