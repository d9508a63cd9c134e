// Command api is Greep's default App Engine service: the read API, the Directory-compatible
// surface and the dashboard over the cache. It only wires pkg/api, with its store and
// authenticator, onto the shared runtime (pkg/service).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap"
	"google.golang.org/api/idtoken"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/cache/datastore"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/service"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.Server
	Store    string // "embedded" (a bbolt file) or "datastore"
	Data     string // the embedded store's file
	Project  string // the Datastore project (GOOGLE_CLOUD_PROJECT on App Engine)
	Clients  string // deploy/clients.yaml: the allowed clients and the audience
	Audience string // overrides clients.yaml's audience
	APIToken string // a static token instead of ID tokens (local use only)
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	c.Server.Flags(fs)
	fs.StringVar(&c.Store, "store", service.Env("GREEP_STORE", "datastore"), "embedded or datastore (env GREEP_STORE)")
	fs.StringVar(&c.Data, "data", service.Env("GREEP_DATA", ".greep/greep.db"), "embedded store file (env GREEP_DATA)")
	fs.StringVar(&c.Project, "project", service.Env("DATASTORE_PROJECT_ID", os.Getenv("GOOGLE_CLOUD_PROJECT")), "Datastore project (env DATASTORE_PROJECT_ID, else GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&c.Clients, "clients", service.Env("GREEP_CLIENTS", "deploy/clients.yaml"), "allowed clients file (env GREEP_CLIENTS)")
	fs.StringVar(&c.Audience, "audience", service.Env("GREEP_AUDIENCE", ""), "ID token audience, overriding the clients file's (env GREEP_AUDIENCE)")
	fs.StringVar(&c.APIToken, "api-token", service.Env("GREEP_API_TOKEN", ""), "accept this static bearer token instead of ID tokens: local use only (env GREEP_API_TOKEN)")
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	if c.Store != "embedded" && c.Store != "datastore" {
		return c, fmt.Errorf("--store %q: want embedded or datastore", c.Store)
	}
	return c, c.Server.Validate()
}

func main() { service.Main("api", realMain) }

func realMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	log := cfg.Logger().With(zap.String("service", "api"))
	defer log.Sync() //nolint:errcheck // stderr may not sync
	return run(ctx, cfg, log)
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
	log.Info("read API", zap.String("store", cfg.Store))
	return cfg.Serve(ctx, h, log)
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
