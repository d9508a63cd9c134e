// Command api is Greep's default App Engine service: the read API, the Directory-compatible
// surface and the dashboard over the cache. It only wires pkg/api, with its store and
// authenticator, onto the shared runtime (pkg/service).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"
	"google.golang.org/api/idtoken"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is the service's configuration. Every field has a flag and an environment
// variable (the flag wins); App Engine sets PORT and app.yaml sets the rest.
type Config struct {
	service.Server
	service.History
	Store    string // "embedded" (a bbolt file) or "datastore"
	Data     string // the embedded store's file
	Project  string // the Datastore project (GOOGLE_CLOUD_PROJECT on App Engine)
	Clients  string // deploy/clients.yaml: the allowed clients and the audience
	Audience string // overrides clients.yaml's audience
	APIToken string // a static token instead of ID tokens (local use only)
	Queues   string // queues.yaml: the quota days and limits /v1/status shows
	// Location is the Cloud Tasks location whose queues /v1/status shows (their stats);
	// "" shows none. TasksEndpoint is a Cloud Tasks emulator's address ("" is Google's).
	Location      string
	TasksEndpoint string
	// Rules names the remediation rules file whose notify URL the alerts are posted to
	// ("": the alerts are shown, not sent). ResyncEvery and MaxAge are the directory
	// service's, for the quota projection.
	Rules               string
	ResyncEvery, MaxAge time.Duration
	// Pprof serves net/http/pprof under /debug/pprof/ to clients with the status scope.
	Pprof bool
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(service.Env(name, "")); err == nil {
		return d
	}
	return def
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	c.Server.Flags(fs)
	c.History.Flags(fs)
	fs.StringVar(&c.Store, "store", service.Env("GREEP_STORE", "datastore"), "embedded or datastore (env GREEP_STORE)")
	fs.StringVar(&c.Data, "data", service.Env("GREEP_DATA", ".greep/greep.db"), "embedded store file (env GREEP_DATA)")
	fs.StringVar(&c.Project, "project", service.Env("DATASTORE_PROJECT_ID", os.Getenv("GOOGLE_CLOUD_PROJECT")), "Datastore project (env DATASTORE_PROJECT_ID, else GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&c.Clients, "clients", service.Env("GREEP_CLIENTS", "deploy/clients.yaml"), "allowed clients file (env GREEP_CLIENTS)")
	fs.StringVar(&c.Audience, "audience", service.Env("GREEP_AUDIENCE", ""), "ID token audience, overriding the clients file's (env GREEP_AUDIENCE)")
	fs.StringVar(&c.APIToken, "api-token", service.Env("GREEP_API_TOKEN", ""), "accept this static bearer token instead of ID tokens: local use only (env GREEP_API_TOKEN)")
	fs.StringVar(&c.Queues, "queues", service.Env("GREEP_QUEUES", "queues.yaml"), "queues file, for the quota on /v1/status (env GREEP_QUEUES)")
	fs.StringVar(&c.Location, "location", service.Env("GREEP_TASKS_LOCATION", ""), "Cloud Tasks location whose queue stats /v1/status shows (env GREEP_TASKS_LOCATION)")
	fs.StringVar(&c.TasksEndpoint, "tasks-endpoint", service.Env("GREEP_TASKS_ENDPOINT", ""), "a Cloud Tasks emulator's gRPC address on loopback; empty for Google (env GREEP_TASKS_ENDPOINT)")
	dir := wiring.DefaultDirectory()
	fs.StringVar(&c.Rules, "rules", service.Env("GREEP_RULES", ""), "remediation rules file whose notify URL the alerts are posted to; empty: alerts shown only (env GREEP_RULES)")
	fs.DurationVar(&c.ResyncEvery, "resync-every", envDuration("GREEP_RESYNC_EVERY", dir.ResyncEvery), "the directory's resync period, for the quota projection (env GREEP_RESYNC_EVERY)")
	fs.DurationVar(&c.MaxAge, "max-age", envDuration("GREEP_MAX_AGE", dir.MaxAge), "the directory's maximum age, for the quota projection (env GREEP_MAX_AGE)")
	fs.BoolVar(&c.Pprof, "pprof", service.Env("GREEP_PPROF", "") == "true", "serve Go's profiles under /debug/pprof/ to clients with the status scope (env GREEP_PPROF=true)")
	if err := service.Parse(fs, args); err != nil {
		return c, err
	}
	if c.Store != "embedded" && c.Store != "datastore" {
		return c, fmt.Errorf("--store %q: want embedded or datastore", c.Store)
	}
	if err := c.History.Validate(); err != nil {
		return c, err
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
	qcfg, err := queueconfig.Load(cfg.Queues)
	if err != nil {
		return err
	}
	store, err := wiring.OpenStore(ctx, wiring.StoreConfig{Kind: cfg.Store, File: cfg.Data, Project: cfg.Project})
	if err != nil {
		return err
	}
	defer store.Close()
	rt := newRuntime(store, qcfg, cfg, log)
	mux := http.NewServeMux()
	if cfg.Location != "" {
		qs, err := cloudtasks.NewQueueStats(ctx, cfg.TasksEndpoint, cloudtasks.Location{Project: cfg.Project, Location: cfg.Location}, qcfg)
		if err != nil {
			return err
		}
		defer qs.Close()
		rt.QueueStats = qs.Stats
		closeLanes, err := mountLanes(ctx, mux, cfg, qcfg, qs, log)
		if err != nil {
			return err
		}
		defer closeLanes()
	} else {
		log.Warn("no --location (GREEP_TASKS_LOCATION): /v1/status shows no queues, and the sweep queues keep their own shares (no /cron/lanes)")
	}
	svc, err := build(ctx, rt, cfg)
	if err != nil {
		return err
	}
	defer rt.Ops.(*wiring.Alerts).Close()
	log.Info("read API", zap.String("store", cfg.Store))
	svc.Mount(mux)
	return cfg.Serve(ctx, mux, log)
}

// newRuntime is the service's runtime. The read API enqueues nothing; it shows the
// queues' stats and the guard's counts. On App Engine it trusts the cron header (App
// Engine strips it from outside requests): without that, every /cron/alerts answered 403
// and the operator alerts were never judged in production.
func newRuntime(store greep.Store, qcfg *queueconfig.Config, cfg Config, log *zap.Logger) *wiring.Runtime {
	rt := wiring.New(store, nil, qcfg, time.Now, log)
	rt.TrustTaskHeaders = service.TrustTaskHeaders()
	rt.HistoryRetention = cfg.History.Retention
	rt.Pprof = cfg.Pprof
	return rt
}

// build is the service on its runtime, by the constructors greep local calls too: the
// read API, and the alerts it shows and judges on wiring.PathCronAlerts.
func build(ctx context.Context, rt *wiring.Runtime, cfg Config) (*wiring.Service, error) {
	authn, err := authenticator(ctx, cfg)
	if err != nil {
		return nil, err
	}
	url := ""
	if cfg.Rules != "" {
		rc, err := rules.LoadFile(cfg.Rules)
		if err != nil {
			return nil, err
		}
		url = rc.NotifyURL
	}
	rt.Ops = wiring.NewAlerts(rt, wiring.AlertsConfig{
		ResyncEvery: cfg.ResyncEvery, MaxAge: cfg.MaxAge, PushExpected: true, SettingsSweep: true, NotifyURL: url,
	})
	return wiring.NewAPI(ctx, rt, authn)
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
