// Package local assembles every Greep service into one process for `greep local`, tests
// and `greep bench`: the store (embedded bbolt or Datastore), the Google clients (an
// embedded Workspace simulator, an external one, or Google), the budget guard and the
// one-call rule on their transport, the in-process task dispatcher, the directory worker
// and the read API, all on one HTTP server on the paths dispatch.yaml gives them:
// /tasks/<service>/..., /cron/<service>/..., /push/..., and / for the read API.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
	qlocal "github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// App is a running `greep local`.
type App struct {
	cfg Config
	log *zap.Logger

	// URL is where the server listens ("http://127.0.0.1:8080").
	URL string
	// APIToken is the read API's bearer token.
	APIToken string
	// Sim is the embedded simulator (nil with --workspace) and SimURL its address.
	Sim    *workspacesim.Sim
	SimURL string

	Store      greep.Store
	Queues     *queueconfig.Config
	Guard      *quota.Guard
	Dispatcher *qlocal.Dispatcher
	Directory  *directory.Worker
	// Services are the App Engine services as mounted, by name ("default" is the read
	// API), each built by its pkg/wiring constructor as in production.
	Services map[string]wiring.Service
	// Metrics is the process's registry, served on /metrics.
	Metrics *metrics.Metrics
	// Now is the clock the whole process follows: the simulator's (time-scaled) or the
	// wall clock against Google.
	Now func() time.Time

	// clock is Now's timers, for the dispatcher and the loops standing in for cron: each
	// sleeps until its next deadline; the embedded simulator's Advance wakes them.
	clock    *qlocal.Scaled
	simSrv   *workspacesim.Server
	srv      *http.Server
	serveErr chan error
	stop     chan struct{}
	bg       sync.WaitGroup
	closed   bool
	mu       sync.Mutex
	// restoreGC undoes what Start did to the garbage collector's settings (gc.go).
	restoreGC func()
}

// Start builds and starts every part. The caller must Close (or Kill) the App.
func Start(ctx context.Context, cfg Config) (app *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	a := &App{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), serveErr: make(chan error, 1)}
	a.restoreGC = TuneGC(cfg)
	defer func() {
		if err != nil {
			a.teardown(context.Background(), false)
		}
	}()

	if err := a.openWorkspaceClock(ctx); err != nil {
		return nil, err
	}
	a.clock = qlocal.ScaledClock(a.Now, cfg.TimeScale)
	if a.Sim != nil {
		a.Sim.OnAdvance(a.clock.Moved)
	}
	if a.Queues, err = loadQueues(cfg.QueuesFile); err != nil {
		return nil, err
	}
	if a.Store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	// Instrumented before the dispatcher takes it, so its failed writes count too.
	a.Metrics = metrics.New(a.Now)
	a.Store = a.Metrics.InstrumentStore(a.Store)

	// The dispatcher's clock is the simulator's: queues.yaml's rates are per simulated
	// second, which a time-scaled simulator packs into less wall time.
	a.Dispatcher, err = qlocal.Open(ctx, a.Store, a.Queues, qlocal.Options{
		Clock:  a.clock,
		Logger: a.log.Named("queue"),
	})
	if err != nil {
		return nil, fmt.Errorf("opening the task dispatcher: %w", err)
	}
	// The runtime every service is built from, as in production (pkg/service) but with
	// the in-process dispatcher; only the dispatcher's context marks a task here.
	rt := wiring.New(a.Store, a.Dispatcher, a.Queues, a.Now, a.log)
	rt.QueueStats = func(context.Context) (map[string]greep.QueueStat, error) { return a.Dispatcher.Stats(), nil }
	rt.HistoryRetention = cfg.HistoryRetention
	rt.Pprof = cfg.Pprof
	a.Guard = rt.Quota

	wcfg := workspace.Config{AdminSubject: cfg.AdminSubject, ServiceAccount: cfg.ServiceAccount}
	if cfg.Workspace != "google" {
		wcfg.Endpoint = a.SimURL
		if wcfg.AdminSubject == "" && a.Sim != nil {
			wcfg.AdminSubject = a.Sim.Admin()
		}
		if wcfg.AdminSubject == "" {
			return nil, errors.New("--admin-subject: the simulator counts quota per admin; name the admin (admin@DOMAIN)")
		}
	}
	if err := rt.ConnectGoogle(ctx, wcfg); err != nil {
		return nil, err
	}

	if err := a.connectFanout(ctx, rt); err != nil {
		return nil, err
	}
	dir, err := wiring.NewDirectory(rt, wiring.DirectoryConfig{Customer: wiring.DefaultDirectory().Customer, ResyncEvery: cfg.ResyncEvery, MaxAge: cfg.MaxAge, NoJudge: cfg.NoRemediation})
	if err != nil {
		return nil, err
	}
	a.Directory = dir.Worker

	if a.APIToken, err = apiToken(cfg); err != nil {
		return nil, err
	}
	authn, err := auth.NewStaticToken(a.APIToken)
	if err != nil {
		return nil, err
	}
	readAPI, err := wiring.NewAPI(ctx, rt, authn)
	if err != nil {
		return nil, fmt.Errorf("read API: %w", err)
	}

	// One mux, the paths dispatch.yaml routes to each service; handlers see full paths.
	root := &wiring.Routes{}
	a.Services = map[string]wiring.Service{}
	a.mount(root, dir.Service)
	a.mount(root, *readAPI)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %s: %w", cfg.Addr, err)
	}
	a.URL = "http://" + ln.Addr().String()
	// The other services need the URL (the webhook's address), so they mount after the
	// listener exists and before it serves.
	if err := a.mountServices(rt, root); err != nil {
		ln.Close()
		return nil, err
	}
	a.srv = service.HTTPServer(root, cfg.Timeouts)
	go func() { a.serveErr <- a.srv.Serve(ln) }()

	// Counters are put right and the initial sync enqueued before any task runs: this
	// process is the only one running the sweep's tasks, so the recount races none.
	if err := a.Directory.Resume(ctx); err != nil {
		return nil, err
	}
	if !cfg.NoInitialSync {
		if err := a.startInitialSync(ctx); err != nil {
			return nil, err
		}
	}
	if err := a.Dispatcher.Start(root); err != nil {
		return nil, err
	}
	if err := a.startOps(rt); err != nil {
		return nil, err
	}
	if cfg.ResyncEvery > 0 {
		a.bg.Add(1)
		go a.resyncLoop()
	}
	return a, nil
}

// mount serves svc's routes on mux and records it in Services.
func (a *App) mount(mux *wiring.Routes, svc wiring.Service) {
	svc.Mount(mux)
	a.Services[svc.Name] = svc
}

// startInitialSync starts a full sync unless one finished or one is under way: a
// restarted process resumes from the queued tasks instead of starting over.
func (a *App) startInitialSync(ctx context.Context) error {
	s, err := a.Directory.Sweep(ctx)
	if err != nil {
		return err
	}
	var st greep.SyncState
	if _, err := greep.LoadState(ctx, a.Store, greep.StateSync, &st); err != nil {
		return err
	}
	switch {
	case s.Running():
		a.log.Info("resuming the sweep in progress", zap.String("mode", s.Mode), zap.Int64("generation", s.Generation))
		return nil
	case !st.LastFullSyncAt.IsZero():
		return nil
	}
	_, err = a.Directory.StartFullSync(ctx)
	return err
}

// resyncLoop runs the resync cron's tick (Worker.Tick, as production's cron does) every
// ResyncEvery of the process's clock: a resync, or the recovery of a stalled sweep.
func (a *App) resyncLoop() {
	defer a.bg.Done()
	due := a.Now().Add(a.cfg.ResyncEvery)
	for {
		// The clock's timers may fire early: only the clock's time says when the resync
		// is due.
		select {
		case <-a.stop:
			return
		case <-a.clock.At(due):
		}
		if a.Now().Before(due) {
			continue
		}
		due = a.Now().Add(a.cfg.ResyncEvery)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := a.Directory.Tick(ctx); err != nil {
			a.log.Warn("the resync tick", zap.Error(err))
		}
		cancel()
	}
}

// Close stops the App cleanly: no new requests, the dispatcher drains the tasks in flight
// (queued ones stay in the store for the next start), the store is closed.
func (a *App) Close(ctx context.Context) error { return a.teardown(ctx, true) }

// Kill stops the App abruptly, as a killed process would: tasks in flight are cut off
// (their contexts cancelled) and stay queued, to run again after a restart.
func (a *App) Kill() error { return a.teardown(context.Background(), false) }

// teardown stops the parts in the reverse order of Start. Without drain, the server and
// the dispatcher get an already-cancelled context: nothing in flight is waited for.
func (a *App) teardown(ctx context.Context, drain bool) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	var errs []error
	if a.srv != nil {
		sctx := ctx
		if !drain {
			var cancel context.CancelFunc
			sctx, cancel = context.WithCancel(ctx)
			cancel()
		}
		if err := a.srv.Shutdown(sctx); err != nil && drain {
			errs = append(errs, fmt.Errorf("stopping the HTTP server: %w", err))
		}
		if !drain {
			_ = a.srv.Close()
		}
	}
	if a.Dispatcher != nil {
		dctx := ctx
		if !drain {
			var cancel context.CancelFunc
			dctx, cancel = context.WithCancel(ctx)
			cancel()
		}
		if err := a.Dispatcher.Stop(dctx); err != nil && drain {
			errs = append(errs, err)
		}
	}
	a.bg.Wait()
	if drain && a.Guard != nil {
		// Nothing calls Google any more: the reservations held ahead go back.
		if err := a.Guard.Release(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if a.Store != nil {
		if err := a.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the store: %w", err))
		}
	}
	if a.simSrv != nil {
		a.simSrv.Close()
	}
	a.restoreGC()
	return errors.Join(errs...)
}

// openWorkspaceClock starts the embedded simulator, or finds the clock of the external
// Workspace.
func (a *App) openWorkspaceClock(ctx context.Context) error {
	cfg := a.cfg
	switch cfg.Workspace {
	case "":
		srv, err := workspacesim.Start(workspacesim.Config{
			Users: cfg.SimUsers, Groups: cfg.SimGroups, Seed: cfg.SimSeed,
			TimeScale: cfg.TimeScale, QuotaPerMinute: cfg.SimQuotaPerMinute,
		})
		if err != nil {
			return fmt.Errorf("embedded simulator: %w", err)
		}
		a.simSrv, a.Sim, a.SimURL, a.Now = srv, srv.Sim, srv.URL, srv.Sim.Now
	case "google":
		a.Now = time.Now
	default:
		a.SimURL = cfg.Workspace
		if cfg.SimClock != nil {
			a.Now = cfg.SimClock
			return nil
		}
		now, err := readSimClock(ctx, cfg.Workspace)
		if err != nil {
			return err
		}
		wall, scale := time.Now(), cfg.TimeScale
		a.Now = func() time.Time { return now.Add(time.Duration(float64(time.Since(wall)) * scale)) }
	}
	return nil
}

func readSimClock(ctx context.Context, base string) (time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sim/v1/clock", nil)
	if err != nil {
		return time.Time{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("--workspace %s: reading the simulator's clock: %w", base, err)
	}
	defer res.Body.Close()
	var body struct {
		Now time.Time `json:"now"`
	}
	if res.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("--workspace %s: /sim/v1/clock answered %s (is it a greep sim?)", base, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Now.IsZero() {
		return time.Time{}, fmt.Errorf("--workspace %s: /sim/v1/clock: unreadable answer", base)
	}
	return body.Now, nil
}

// findFile finds a relative path in the working directory or its nearest parent that
// has it, so greep local runs from anywhere in a checkout.
func findFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("no file given")
	}
	if filepath.IsAbs(path) {
		return path, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return path, nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, path)); err == nil {
			return filepath.Join(d, path), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s: not found in %s or its parents", path, dir)
		}
	}
}

func loadQueues(path string) (*queueconfig.Config, error) {
	if path == "" {
		path = defaultQueuesFile
	}
	found, err := findFile(path)
	var qc *queueconfig.Config
	switch {
	case err != nil && path == defaultQueuesFile:
		found = defaultQueuesFile + " (embedded)"
		qc, err = embeddedQueues()
	case err != nil:
		return nil, fmt.Errorf("--queues: %w", err)
	default:
		qc, err = queueconfig.Load(found)
	}
	if err != nil {
		return nil, fmt.Errorf("--queues: %w", err)
	}
	if missing := qc.Missing(tasks.QueueDirectory, tasks.QueueDirectorySweep); len(missing) > 0 {
		return nil, fmt.Errorf("--queues %s: queues %v are missing; the directory service needs them", found, missing)
	}
	return qc, nil
}

func openStore(ctx context.Context, cfg Config) (greep.Store, error) {
	sc := wiring.StoreConfig{Kind: cfg.Store, File: filepath.Join(cfg.DataDir, "greep.db"), Project: cfg.DatastoreProject}
	s, err := wiring.OpenStore(ctx, sc)
	if err != nil && cfg.Store == wiring.StoreDatastore {
		return nil, fmt.Errorf("--store datastore: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	return s, nil
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
