package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/greephq/greep/pkg/cluster"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspacesim"
)

// ClusterConfig is a scenario run against greep cluster: the production topology, each
// service its own process, on the Datastore emulator and the Cloud Tasks emulator. The
// services run on the wall clock, as in production, so the simulator does too
// (Config.TimeScale is not used).
type ClusterConfig struct {
	Config
	// Root is the app's directory (found from the working directory when empty).
	Root string
	// Binaries holds the services' binaries (cluster.Build); empty builds them per run.
	Binaries string
	// DatastoreHost is a running Datastore emulator; empty starts one (needed by
	// ClusterKills, which restarts it), of kind Emulator (cluster.Config.Emulator).
	DatastoreHost string
	Emulator      string
	// DeliverTwice makes the Cloud Tasks emulator deliver every task twice.
	DeliverTwice bool
	// DirectoryPerMinute is the Directory short-window quota the run gives queues.yaml,
	// so that the full sync lasts long enough for kills to land inside it (0: 600).
	DirectoryPerMinute int
	// Concurrency caps every lane's concurrent dispatches (0: 4), for the Datastore
	// emulator's sake (see clusterQueues).
	Concurrency int
}

// ClusterRun is what a cluster scenario measured beyond a Report's figures.
type ClusterRun struct {
	// SyncSeconds is the wall time from the cluster's start to the first full sync's end.
	SyncSeconds float64 `json:"syncSeconds"`
	// PushVisibleSeconds is how long a change made in the simulator took to show through
	// the front's /v1 (the debounce included).
	PushVisibleSeconds float64 `json:"pushVisibleSeconds,omitempty"`
	DebounceSeconds    float64 `json:"debounceSeconds,omitempty"`
	// StatusQueues and StatusQuota are the queues and APIs /v1/status listed.
	StatusQueues []string `json:"statusQueues"`
	StatusQuota  []string `json:"statusQuota"`
	// Tasks is what the Cloud Tasks emulator did, per queue.
	Tasks map[string]ClusterQueue `json:"tasks"`
	// DatastoreRestarts counts the Datastore emulator's restarts; DeliveredTwice says
	// every task was delivered twice.
	DatastoreRestarts int  `json:"datastoreRestarts,omitempty"`
	DeliveredTwice    bool `json:"deliveredTwice,omitempty"`
	// ResyncTicks counts the resync cron runs the scenario made while a sweep was open.
	ResyncTicks int `json:"resyncTicks,omitempty"`
}

// ClusterQueue is one queue's dispatch figures.
type ClusterQueue struct {
	Succeeded  int64 `json:"succeeded"`
	Retries    int64 `json:"retries"`
	Dropped    int64 `json:"dropped"`
	Duplicates int64 `json:"duplicates"`
}

// clusterRun is a started simulator and cluster, and how to reach them.
type clusterRun struct {
	c      ClusterConfig
	s      *simServer
	cl     *cluster.Cluster
	p      *greepProc // the front, spoken to with procToken
	work   string
	r      *Report
	run    *ClusterRun
	probs  problems
	within time.Duration
	// want is the groups the rules must patch and rules the rules (remediation
	// scenarios only).
	want  map[string]bool
	rules *rules.Config
	// lastTick is when the scenario last ran the resync cron job.
	lastTick time.Time
}

// startClusterRun starts the simulator, lets prepare read it and name the services'
// environment, and starts the cluster against it.
func startClusterRun(ctx context.Context, c ClusterConfig, name string, prepare func(run *clusterRun) (map[string]string, error)) (_ *clusterRun, err error) {
	c.Config, err = c.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.DirectoryPerMinute == 0 {
		c.DirectoryPerMinute = 600
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	s, err := startSim(workspacesim.Config{Users: c.Users, Groups: c.Groups, Seed: c.Seed, TimeScale: 1})
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(c.TempDir, "greep-faults-"+name+"-")
	if err != nil {
		s.Close()
		return nil, err
	}
	queues, err := clusterQueues(c.QueuesFile, work, c.DirectoryPerMinute, c.Concurrency)
	if err != nil {
		s.Close()
		return nil, err
	}
	synced, err := paced(queues, "directory-sweep", c.Groups)
	if err != nil {
		s.Close()
		return nil, err
	}
	// Every process writes to one Datastore emulator, the machine's slowest part: the
	// bound is five minutes a hundred groups (a run that converges returns at once).
	within := max(c.wait(synced), time.Duration(float64(5*time.Minute)*max(1, float64(c.Groups)/100)))
	if c.Wait > 0 {
		within = c.Wait
	}
	run := &clusterRun{c: c, s: s, work: work, run: &ClusterRun{DeliveredTwice: c.DeliverTwice}, within: within}
	run.r = &Report{Scenario: name, TimeScale: 1}
	env, err := prepare(run)
	if err != nil {
		s.Close()
		return nil, err
	}
	cl, err := cluster.Start(ctx, cluster.Config{
		DeliverTwice: c.DeliverTwice,
		Root:         c.Root, Addr: "127.0.0.1:0", Workspace: s.URL, AdminSubject: s.Sim.Admin(),
		APIToken: procToken, DatastoreHost: c.DatastoreHost, Emulator: c.Emulator, QueuesFile: queues, Env: env,
		Binaries: c.Binaries, WorkDir: filepath.Join(work, "cluster"), Logf: c.Logf,
		ReadyWithin: run.within,
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%w (kept in %s)", err, work)
	}
	run.cl, run.p = cl, &greepProc{url: cl.URL, within: run.within}
	return run, nil
}

// close stops the cluster and the simulator; the work directory (logs, Datastore data)
// is removed after a clean run and kept, named in the report, otherwise.
func (run *clusterRun) close(failed bool) {
	if err := run.cl.Close(); err != nil {
		run.c.Logf("stopping the cluster: %v", err)
	}
	run.s.Close()
	if failed {
		if run.r != nil {
			run.r.KeptIn = "the services' logs and the Datastore data in " + filepath.Join(run.work, "cluster")
		}
		return
	}
	os.RemoveAll(run.work)
}

// clusterQueues writes a copy of queues.yaml with the Directory short window at
// perMinute, so that the full sync lasts long enough to be interrupted, and no lane
// dispatching more than concurrency tasks at once: every service shares one Datastore
// emulator, which answers a few transactions at a time where Datastore answers
// thousands, and forty concurrent sweep tasks make its calls time out.
func clusterQueues(path, dir string, perMinute, concurrency int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	const from = "  directory:\n    shortWindow: {limit: 2400, per: 1m}"
	if !bytes.Contains(b, []byte(from)) {
		return "", fmt.Errorf("%s no longer holds %q; update pkg/faults", path, from)
	}
	to := fmt.Sprintf("  directory:\n    shortWindow: {limit: %d, per: 1m}", perMinute)
	b = bytes.Replace(b, []byte(from), []byte(to), 1)
	b = concurrencyRE.ReplaceAllFunc(b, func(m []byte) []byte {
		n, _ := strconv.Atoi(string(concurrencyRE.FindSubmatch(m)[2]))
		return []byte(fmt.Sprintf("%s%d", concurrencyRE.FindSubmatch(m)[1], min(n, concurrency)))
	})
	out := filepath.Join(dir, "queues.yaml")
	return out, os.WriteFile(out, b, 0o644)
}

var concurrencyRE = regexp.MustCompile(`(?m)^(\s+concurrency: )(\d+)`)

// status reads /v1/status through the front.
func (run *clusterRun) status(ctx context.Context) (clusterStatus, error) {
	var st clusterStatus
	err := run.p.get(ctx, "/v1/status", &st)
	return st, err
}

// clusterStatus is the part of /v1/status a cluster scenario reads.
type clusterStatus struct {
	status
	Quota map[string]json.RawMessage `json:"quota"`
}

// quiet waits until the cache equals the truth and every queue of the Cloud Tasks
// emulator stayed empty over several polls.
func (run *clusterRun) quiet(ctx context.Context, what string, extra func() (bool, string)) error {
	quiet := 0
	return poll(ctx, run.within, what, func() (bool, string) {
		if extra != nil {
			if ok, why := extra(); !ok {
				quiet = 0
				return false, why
			}
		}
		for name, q := range run.cl.Tasks.Stats() {
			if q.Backlog() > 0 {
				quiet = 0
				return false, fmt.Sprintf("%s has %d tasks", name, q.Backlog())
			}
		}
		quiet++
		return quiet >= 20, "queues empty for a moment only"
	})
}

// finish fills the report's common figures: calls, tenant, the emulator's queues, what
// /v1/status lists, and the cache against the truth, read from the cluster's Datastore.
func (run *clusterRun) finish(ctx context.Context) error {
	st := run.s.Sim.Stats()
	run.r.calls(st)
	truth, err := run.s.Sim.Truth("")
	if err != nil {
		return err
	}
	run.r.tenant(truth)
	run.run.Tasks = map[string]ClusterQueue{}
	for name, q := range run.cl.Tasks.Stats() {
		run.run.Tasks[name] = ClusterQueue{Succeeded: q.Succeeded, Retries: q.Retries, Dropped: q.Dropped, Duplicates: q.Duplicates}
		if q.Dropped > 0 {
			run.probs.add("queue %s gave up %d tasks after their last attempt", name, q.Dropped)
		}
	}
	if s, err := run.status(ctx); err == nil {
		run.run.StatusQueues, run.run.StatusQuota = keys(s.Queues), keys(s.Quota)
	}
	store, err := run.cl.Store(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if run.r.Differences, err = truthdiff.Diff(ctx, store, truth, 10); err != nil {
		return err
	}
	run.r.CacheEqualsTruth = len(run.r.Differences) == 0
	if !run.r.CacheEqualsTruth {
		run.probs.add("the cache differs from the truth: %s", describe(run.r.Differences))
	}
	if run.r.Remediation != nil {
		if run.r.Remediation.Fixed, err = checkFixed(ctx, store, run.want, &run.probs); err != nil {
			return err
		}
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ClusterSync runs the full sync under greep cluster: the cache must equal the
// simulator's truth after it; a change made in the simulator then must show through the
// front's /v1 within the push debounce plus seconds; /v1/status's queues and quota are
// recorded (and must list every queue and API when the default service reports them).
func ClusterSync(ctx context.Context, c ClusterConfig) (_ *Report, err error) {
	const debounce = 5 * time.Second
	wall := time.Now()
	run, err := startClusterRun(ctx, c, "cluster-sync", func(*clusterRun) (map[string]string, error) {
		return map[string]string{"GREEP_DEBOUNCE": debounce.String(), "GREEP_REMEDIATION": "detect"}, nil
	})
	if err != nil {
		return nil, err
	}
	defer func() { run.close(err != nil || (run.r != nil && len(run.r.Problems) > 0)) }()
	if err := run.waitSyncedTicking(ctx); err != nil {
		return nil, err
	}
	run.run.SyncSeconds = seconds(time.Since(wall))
	run.c.Logf("full sync done %.1fs after the start", run.run.SyncSeconds)
	if err := run.quiet(ctx, "the queues after the sync", nil); err != nil {
		return nil, err
	}

	// A change pushed by the simulator (the watch channels the reports service made at
	// start deliver it to the front's /push/notify).
	truth, err := run.s.Sim.Truth("")
	if err != nil {
		return nil, err
	}
	group, member := truth.Groups[0].Email, truth.Users[len(truth.Users)-1].PrimaryEmail
	changed := time.Now()
	if err := run.s.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: group, Member: member, Role: "MEMBER"}}); err != nil {
		return nil, err
	}
	run.run.DebounceSeconds = debounce.Seconds()
	if err := poll(ctx, debounce+run.within, "the pushed change through the front", func() (bool, string) {
		var page struct {
			Members []struct {
				Email string `json:"email"`
			} `json:"members"`
		}
		if err := run.p.get(ctx, "/v1/groups/"+url.PathEscape(group)+"/members?maxResults=1000", &page); err != nil {
			return false, err.Error()
		}
		for _, m := range page.Members {
			if m.Email == member {
				return true, ""
			}
		}
		return false, member + " not yet a member of " + group
	}); err != nil {
		return nil, err
	}
	run.run.PushVisibleSeconds = seconds(time.Since(changed))
	if limit := debounce + 30*time.Second; time.Since(changed) > limit {
		run.probs.add("the pushed change took %.1fs to show, over the debounce plus 30 s", run.run.PushVisibleSeconds)
	}
	if err := run.quiet(ctx, "the queues after the push", nil); err != nil {
		return nil, err
	}
	if err := run.finish(ctx); err != nil {
		return nil, err
	}
	// Production /v1/status lists every queue (Cloud Tasks' stats, the v2beta3 GetQueue)
	// and every API's quota, as greep local does.
	if len(run.run.StatusQueues) != len(run.cl.Tasks.Stats()) {
		run.probs.add("/v1/status lists queues %v, want all of %v", run.run.StatusQueues, keys(run.cl.Tasks.Stats()))
	}
	if len(run.run.StatusQuota) == 0 {
		run.probs.add("/v1/status lists no quota")
	}
	run.r.WallSeconds = seconds(time.Since(wall))
	run.r.Cluster = run.run
	run.r.Problems = run.probs.list()
	return run.r, nil
}
