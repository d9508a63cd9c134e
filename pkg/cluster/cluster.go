// Package cluster runs Greep's production topology on one machine (greep cluster): every
// App Engine service as its own process built from its deployed main package, behind one
// front address that routes by dispatch.yaml and strips App Engine's own headers; the
// Datastore emulator as the store; the project's Cloud Tasks emulator
// (pkg/cloudtasksemu) dispatching tasks to the services at the queues' rates; cron.yaml's
// jobs on their schedules; and the Workspace simulator.
//
// Google's dev_appserver.py would be the natural host, but it refuses runtime go125
// (docs/cluster.md); the cluster does what it would do for a Go app instead.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ds "cloud.google.com/go/datastore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/greephq/greep/internal/freeport"
	"github.com/greephq/greep/pkg/cache/datastore"
	"github.com/greephq/greep/pkg/cloudtasksemu"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Config is how to run the cluster.
type Config struct {
	// Root is the app's directory: app.yaml, services/, dispatch.yaml, deploy/cron.yaml,
	// and the working directory of every service, as the deployed app's root is.
	Root string
	// Addr is the front's HOST:PORT.
	Addr string
	// Workspace is a Workspace simulator's URL; empty for an embedded one of SimUsers
	// users and SimGroups groups (seed SimSeed).
	Workspace           string
	SimUsers, SimGroups int
	SimSeed             int64
	// AdminSubject is the admin the services act as (the embedded simulator's when empty).
	AdminSubject string
	// APIToken is the read API's static bearer token.
	APIToken string
	// Project and Location name the Datastore project and the Cloud Tasks queues.
	Project, Location string
	// DatastoreHost is a running Datastore emulator to use (DATASTORE_EMULATOR_HOST);
	// empty starts one, which RestartDatastore can then restart.
	DatastoreHost string
	// Emulator is the Datastore emulator started without DatastoreHost: EmulatorDatastore
	// (the default) or EmulatorFirestore.
	Emulator string
	// QueuesFile is queues.yaml for the queues the cluster creates and for every service
	// (relative to Root).
	QueuesFile string
	// Env is set for every service after its app.yaml's env_variables (GREEP_DEBOUNCE,
	// GREEP_RULES, GREEP_REMEDIATION...).
	Env map[string]string
	// DeliverTwice makes the Cloud Tasks emulator deliver every task twice.
	DeliverTwice bool
	// Binaries is a directory holding the services' binaries (Build); empty builds them
	// into the work directory.
	Binaries string
	// WorkDir holds the logs and the Datastore emulator's data; empty for a temporary
	// directory removed by Close.
	WorkDir string
	// ReadyWithin bounds each process's start (0: a minute).
	ReadyWithin time.Duration
	// Logf is told of the cluster's steps and of failed cron runs.
	Logf func(format string, args ...any)
}

// Cluster is a running cluster.
type Cluster struct {
	// URL is the front's address, http://HOST:PORT.
	URL string
	// SimURL is the Workspace simulator's URL and Sim the embedded one (nil with
	// Config.Workspace).
	SimURL string
	Sim    *workspacesim.Sim
	// Tasks is the Cloud Tasks emulator and TasksAddr its gRPC address.
	Tasks     *cloudtasksemu.Emulator
	TasksAddr string
	// DatastoreHost is the Datastore emulator's address and Project its project.
	DatastoreHost, Project string
	// Admin is the subject the services act as.
	Admin string

	cfg      Config
	top      *Topology
	work     string
	bins     string
	ports    map[string]string // service -> loopback HOST:PORT
	front    *http.Server
	ds       *datastoreEmulator
	sim      *workspacesim.Server
	cancel   context.CancelFunc
	bg       sync.WaitGroup
	failed   chan error
	mu       sync.Mutex
	procs    map[string]*proc
	expected map[*proc]bool // processes stopped or killed on purpose
}

func (c *Config) defaults() error {
	if c.Root == "" {
		c.Root = "."
	}
	root, err := filepath.Abs(c.Root)
	if err != nil {
		return err
	}
	c.Root = root
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Project == "" {
		c.Project = "greep-cluster"
	}
	if c.Emulator == "" {
		c.Emulator = EmulatorDatastore
	}
	if c.Location == "" {
		c.Location = "us-central1"
	}
	if c.QueuesFile == "" {
		c.QueuesFile = "queues.yaml"
	}
	if !filepath.IsAbs(c.QueuesFile) {
		c.QueuesFile = filepath.Join(c.Root, c.QueuesFile)
	}
	if c.APIToken == "" {
		return errors.New("cluster: an API token is required")
	}
	if c.ReadyWithin == 0 {
		c.ReadyWithin = time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}

// Start refuses a topology it cannot honour before starting anything, then starts every
// part; a part that fails to start stops all the others, and the error carries its log's
// end: never a half-started cluster. Close stops it.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	top, err := LoadTopology(cfg.Root)
	if err != nil {
		return nil, err
	}
	qcfg, err := queueconfig.Load(cfg.QueuesFile)
	if err != nil {
		return nil, err
	}
	loc := cloudtasks.Location{Project: cfg.Project, Location: cfg.Location}
	if err := loc.Validate(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, top: top, Project: cfg.Project, procs: map[string]*proc{}, expected: map[*proc]bool{},
		ports: map[string]string{}, failed: make(chan error, len(top.Apps))}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.work = cfg.WorkDir; c.work == "" {
		if c.work, err = os.MkdirTemp("", "greep-cluster-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(c.work, 0o700); err != nil {
		return nil, err
	}
	c.bins = cfg.Binaries
	if c.bins == "" {
		c.bins = filepath.Join(c.work, "bin")
		cfg.Logf("building %d services", len(top.Apps))
		if err := Build(ctx, top, c.bins); err != nil {
			return nil, err
		}
	}

	if err := c.startWorkspace(); err != nil {
		return nil, err
	}
	if err := c.startDatastore(ctx); err != nil {
		return nil, err
	}
	c.Tasks = cloudtasksemu.New(cloudtasksemu.Config{Target: c.target, DeliverTwice: cfg.DeliverTwice, Logf: cfg.Logf})
	if c.TasksAddr, err = c.Tasks.Listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	client, err := cloudtasks.NewClient(ctx, c.TasksAddr)
	if err != nil {
		return nil, err
	}
	_, err = cloudtasks.Apply(ctx, client, loc, qcfg, false)
	client.Close()
	if err != nil {
		return nil, err
	}
	cfg.Logf("Cloud Tasks emulator on %s: %d queues", c.TasksAddr, len(qcfg.LaneNames()))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: the front: %w", err)
	}
	c.URL = "http://" + ln.Addr().String()
	targets := map[string]*url.URL{}
	for _, s := range top.Services() {
		addr, err := freeport.Addr()
		if err != nil {
			ln.Close()
			return nil, err
		}
		c.ports[s] = addr
		targets[s] = &url.URL{Scheme: "http", Host: addr}
	}
	if err := c.startServices(ctx, top.Services()...); err != nil {
		ln.Close()
		return nil, err
	}
	c.front = service.HTTPServer(newFront(top.Rules, targets), service.Timeouts{})
	go func() { _ = c.front.Serve(ln) }()

	bg, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, j := range top.Cron {
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			c.runCron(bg, j)
		}()
	}
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) { c.cfg.Logf(format, args...) }

// target is where the Cloud Tasks emulator and cron reach a service: its loopback port,
// past the front (App Engine delivers tasks to the instance, with its headers).
func (c *Cluster) target(service string) (string, bool) {
	addr, ok := c.ports[service]
	return "http://" + addr, ok
}

func (c *Cluster) startWorkspace() error {
	c.SimURL, c.Admin = c.cfg.Workspace, c.cfg.AdminSubject
	if c.cfg.Workspace != "" {
		if c.Admin == "" {
			return errors.New("cluster: --admin-subject is required with --workspace")
		}
		return nil
	}
	s, err := workspacesim.Start(workspacesim.Config{Users: c.cfg.SimUsers, Groups: c.cfg.SimGroups, Seed: c.cfg.SimSeed})
	if err != nil {
		return err
	}
	c.sim, c.Sim, c.SimURL = s, s.Sim, s.URL
	if c.Admin == "" {
		c.Admin = s.Sim.Admin()
	}
	return nil
}

func (c *Cluster) startDatastore(ctx context.Context) error {
	if c.DatastoreHost = c.cfg.DatastoreHost; c.DatastoreHost != "" {
		return nil
	}
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	d, err := newDatastore(c.cfg.Emulator, c.work, addr, c.Project)
	if err != nil {
		return err
	}
	c.logf("starting the %s on %s", d.name, addr)
	if err := d.run(ctx, max(c.cfg.ReadyWithin, 2*time.Minute)); err != nil {
		return err
	}
	c.ds, c.DatastoreHost = d, addr
	return nil
}

// env is a service's environment: this process's, then its app.yaml's env_variables,
// then what the cluster provides in place of App Engine, then Config.Env.
func (c *Cluster) env(service string) []string {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	// Nothing may make a service believe it runs on App Engine.
	delete(vars, "GAE_ENV")
	for k, v := range c.top.Apps[service].Env {
		vars[k] = v
	}
	_, port, _ := net.SplitHostPort(c.ports[service])
	for k, v := range map[string]string{
		"PORT":                     port,
		"GOOGLE_CLOUD_PROJECT":     c.Project,
		"DATASTORE_EMULATOR_HOST":  c.DatastoreHost,
		"DATASTORE_PROJECT_ID":     c.Project,
		"GREEP_TASKS_ENDPOINT":     c.TasksAddr,
		"GREEP_TASKS_LOCATION":     c.cfg.Location,
		"GREEP_QUEUES":             c.cfg.QueuesFile,
		"GREEP_WORKSPACE":          c.SimURL,
		"GREEP_ADMIN_SUBJECT":      c.Admin,
		"GREEP_SERVICE_ACCOUNT":    "",
		"GREEP_PUSH_ADDRESS":       c.URL + "/push/notify",
		"GREEP_API_TOKEN":          c.cfg.APIToken,
		"GREEP_TRUST_TASK_HEADERS": "true",
	} {
		vars[k] = v
	}
	for k, v := range c.cfg.Env {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// startServices starts the services' processes together and waits until each answers
// on its port; the first that exits or stays silent is the error.
func (c *Cluster) startServices(ctx context.Context, services ...string) error {
	procs := map[string]*proc{}
	for _, service := range services {
		app := c.top.Apps[service]
		p := &proc{
			name: "service " + service,
			// Loopback only: outside requests come through the front, which strips the
			// headers the services trust.
			argv:    []string{filepath.Join(c.bins, binaryName(app)), "--addr", c.ports[service]},
			dir:     c.cfg.Root,
			env:     c.env(service),
			logPath: filepath.Join(c.work, service+".log"),
		}
		if err := p.start(); err != nil {
			return err
		}
		c.mu.Lock()
		c.procs[service] = p
		c.mu.Unlock()
		procs[service] = p
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(procs))
	for service, p := range procs {
		go func() { errc <- p.waitHTTP(ctx, "http://"+c.ports[service]+"/", c.cfg.ReadyWithin) }()
	}
	var first error
	for range procs {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel() // the others need not be waited for
		}
	}
	if first != nil {
		return first
	}
	for service, p := range procs {
		c.bg.Add(1)
		go c.watch(p)
		c.logf("%s on %s", p.name, c.ports[service])
	}
	return nil
}

// watch reports a service that exits when nobody stopped it.
func (c *Cluster) watch(p *proc) {
	defer c.bg.Done()
	<-p.done
	c.mu.Lock()
	expected := c.expected[p]
	c.mu.Unlock()
	if expected {
		return
	}
	select {
	case c.failed <- fmt.Errorf("%s exited (%v); the end of its log, %s:\n%s", p.name, p.err, p.logPath, tail(p.logPath, 30)):
	default: // one failure is enough to stop the cluster
	}
}

// Failed delivers an error when a service exits without being told to.
func (c *Cluster) Failed() <-chan error { return c.failed }

// Kill ends a service's process with SIGKILL, as an instance lost mid-request.
func (c *Cluster) Kill(service string) error {
	c.mu.Lock()
	p, ok := c.procs[service]
	if ok {
		c.expected[p] = true
	}
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("cluster: no service %q", service)
	}
	p.kill()
	return nil
}

// Restart starts a killed service again, on the same port.
func (c *Cluster) Restart(ctx context.Context, service string) error {
	return c.startServices(ctx, service)
}

// RestartDatastore stops the Datastore emulator the cluster started, the way that keeps
// its data, and starts it again on the same address and data (datastoreEmulator.restart).
func (c *Cluster) RestartDatastore(ctx context.Context) error {
	if c.ds == nil {
		return errors.New("cluster: the Datastore emulator was given (DATASTORE_EMULATOR_HOST), not started: it cannot be restarted")
	}
	return c.ds.restart(ctx, max(c.cfg.ReadyWithin, 2*time.Minute))
}

// Store is the cluster's Datastore opened as Greep's store.
type Store struct {
	*datastore.Store
	client *ds.Client
}

// Close closes the store and its client.
func (s *Store) Close() error {
	s.Store.Close()
	return s.client.Close()
}

// Store opens the cluster's Datastore as a store (close it after use), without touching
// this process's environment.
func (c *Cluster) Store(ctx context.Context) (*Store, error) {
	client, err := ds.NewClient(ctx, c.Project,
		option.WithEndpoint(c.DatastoreHost), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return nil, err
	}
	return &Store{Store: datastore.New(client, ""), client: client}, nil
}

// LogTail is the end of a service's log.
func (c *Cluster) LogTail(service string, lines int) string {
	return tail(filepath.Join(c.work, service+".log"), lines)
}

// WorkDir is where the logs and the Datastore emulator's data are.
func (c *Cluster) WorkDir() string { return c.work }

// Close stops the cron jobs, the front, every service (SIGTERM, then SIGKILL after a
// grace), the Cloud Tasks emulator, the Datastore emulator it started and the embedded
// simulator; a temporary work directory is removed.
func (c *Cluster) Close() error {
	var errs []error
	if c.cancel != nil {
		c.cancel()
	}
	if c.front != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.front.Shutdown(ctx)
		cancel()
	}
	c.mu.Lock()
	procs := make([]*proc, 0, len(c.procs))
	for _, p := range c.procs {
		c.expected[p] = true
		procs = append(procs, p)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.stop(10*time.Second, c.logf); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if c.Tasks != nil {
		c.Tasks.Close()
	}
	if c.ds != nil {
		if err := c.ds.shutdown(30 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if c.sim != nil {
		c.sim.Close()
	}
	c.bg.Wait()
	if c.cfg.WorkDir == "" && c.work != "" {
		os.RemoveAll(c.work)
	}
	return errors.Join(errs...)
}
