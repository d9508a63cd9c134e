package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Options size and pace a scenario.
type Options struct {
	Users, Groups int
	Seed          int64
	// TimeScale runs the simulated clock this many times faster than the wall clock for
	// Greep's run. Greep's figures are in simulated time, so they do not depend on it as
	// long as the process keeps up with the scaled rate (utilization tells).
	TimeScale float64
	// NaiveTimeScale is the clock of the naive crawl's simulator (it stores nothing, so it
	// keeps up with a faster clock). 0 skips the naive crawl.
	NaiveTimeScale float64
	// QueuesFile is queues.yaml.
	QueuesFile string
	// DataDir holds the store (a temporary directory when empty).
	DataDir string
	// GreepBinary is the greep executable the faults scenario kills (`greep local`); the
	// kills are skipped without it.
	GreepBinary string
	// ClusterRoot is the app's directory the cluster scenarios run (app.yaml, services/,
	// dispatch.yaml); the working directory when empty.
	ClusterRoot string
	// ReadClient is the read scenario's load generator: "go" (the bench's own, the
	// default) or "wrk" (on PATH; scripts/wrk.sh installs it).
	ReadClient string
	// RestWindow is how long the rest scenario measures the idle process
	// (DefaultRestWindow when zero).
	RestWindow time.Duration
	// Profile, when set, is a file the rest, floor and read scenarios write a CPU profile
	// of their measured window to (go tool pprof reads it): the idle process, Greep's
	// sync, the reads against the static server (its goroutines labelled side=static).
	Profile string
}

// Result is one scenario's figures, in the shape `greep bench --json` prints.
type Result struct {
	Scenario string           `json:"scenario"`
	Users    int              `json:"users"`
	Groups   int              `json:"groups"`
	Members  int64            `json:"members"`
	Calls    map[string]int64 `json:"calls"`
	// PlannedCalls is what syncplan predicts for the tenant: Calls should equal it.
	PlannedCalls map[string]int64 `json:"plannedCalls,omitempty"`
	QuotaErrors  int64            `json:"quotaErrors"`
	// Utilization is the achieved Directory call rate over the rate the sweep lane is
	// allowed (its ceiling: the Directory window's whole usable rate, which a sweep
	// borrows while push work is idle), both in simulated time.
	Utilization       float64 `json:"utilization"`
	AchievedPerSecond float64 `json:"achievedPerSecond"`
	AllowedPerSecond  float64 `json:"allowedPerSecond"`
	SimulatedSeconds  float64 `json:"simulatedSeconds"`
	WallSeconds       float64 `json:"wallSeconds"`
	TimeScale         float64 `json:"timeScale"`
	CacheEqualsTruth  bool    `json:"cacheEqualsTruth"`
	// PushRefreshSeconds is how long (simulated) a push-driven refresh, requested half-way
	// through the sync, took to bring its change into the cache: push work does not wait
	// behind the sweep.
	PushRefreshSeconds float64  `json:"pushRefreshSeconds,omitempty"`
	Differences        []string `json:"differences,omitempty"`
	// Freshness is how long changes took to show in the cache as Google's read confirmed
	// them, from the change (simulated seconds).
	Freshness *Freshness `json:"freshness,omitempty"`
	// AcceptedToVisible is how long membership changes took from their notification
	// being accepted to showing in the cache, provisionally (simulated seconds).
	AcceptedToVisible *Freshness `json:"acceptedToVisible,omitempty"`
	// AcceptedToVisibleWall is AcceptedToVisible in wall seconds: what a reader waits at
	// a time scale where a wall millisecond is many simulated ones.
	AcceptedToVisibleWall *Freshness `json:"acceptedToVisibleWall,omitempty"`
	// Figures are the scenario's own figures (refreshes per event, share of a daily
	// quota, requests per second, ...), named in docs/benchmarks.md.
	Figures map[string]any `json:"figures,omitempty"`
	Naive   *Result        `json:"naive,omitempty"`
}

// FullSync syncs a generated tenant into an empty cache with greep local (as a library)
// and reports the calls, quota errors, achieved rate and whether the cache equals the
// truth; with NaiveTimeScale, also a naive per-group crawl of the same tenant.
func FullSync(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 1
	}
	srv, err := workspacesim.Start(workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	dir := o.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp(scratch(), "greep-bench-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.APIToken = "bench"
	cfg.Workspace, cfg.SimClock, cfg.AdminSubject = srv.URL, srv.Sim.Now, srv.Sim.Admin()
	cfg.TimeScale = o.TimeScale
	cfg.ResyncEvery = 0
	if o.QueuesFile != "" {
		cfg.QueuesFile = o.QueuesFile
	}
	wall := time.Now()
	app, err := local.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer app.Close(context.Background())
	writesBefore := storeWrites(app.Store)
	pushed, err := probePush(ctx, app, srv.Sim)
	if err != nil {
		return nil, err
	}
	if err := waitFinished(ctx, app); err != nil {
		return nil, err
	}
	writesAfter := storeWrites(app.Store)
	p, _, err := app.Directory.Progress(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Scenario: "full-sync", TimeScale: o.TimeScale, WallSeconds: time.Since(wall).Seconds(), PushRefreshSeconds: pushed.Seconds()}
	st := srv.Sim.Stats()
	res.Calls = directoryCalls(st)
	res.QuotaErrors = st.Rejected.RateLimit + st.Rejected.DailyLimit
	res.SimulatedSeconds = p.Elapsed().Seconds()
	if lane, ok := app.Queues.Lane(tasks.QueueDirectorySweep); ok {
		res.AllowedPerSecond = lane.CeilingPerSecond()
	}
	var calls int64
	for _, n := range res.Calls {
		calls += n
	}
	if res.SimulatedSeconds > 0 {
		res.AchievedPerSecond = float64(calls) / res.SimulatedSeconds
	}
	if res.AllowedPerSecond > 0 {
		res.Utilization = res.AchievedPerSecond / res.AllowedPerSecond
	}
	res.Figures = map[string]any{}
	if ratio, ok := wallRatio(res.SimulatedSeconds, calls, usableRate(app.Queues, workspacesim.APIDirectory)); ok {
		res.Figures["wallRatio"] = ratio
	}
	perCall(res.Figures, writesBefore, writesAfter, calls)

	truth, err := srv.Sim.Truth("")
	if err != nil {
		return nil, err
	}
	res.Users, res.Groups = len(truth.Users), len(truth.Groups)
	for _, g := range truth.Groups {
		res.Members += int64(len(g.Members))
	}
	res.PlannedCalls = PlannedCalls(truth)
	if res.Differences, err = truthdiff.Diff(ctx, app.Store, truth, 5); err != nil {
		return nil, err
	}
	res.CacheEqualsTruth = len(res.Differences) == 0

	if o.NaiveTimeScale > 0 {
		if res.Naive, err = NaiveCrawl(ctx, o); err != nil {
			return nil, fmt.Errorf("naive crawl: %w", err)
		}
	}
	return res, nil
}

// probePush waits until half the groups are synced, then changes one group in the
// simulator and asks for its refresh on the push lane, as the push service would, and
// returns how long (simulated) the change took to reach the cache while the sweep runs.
func probePush(ctx context.Context, app *local.App, sim *workspacesim.Sim) (time.Duration, error) {
	for {
		p, s, err := app.Directory.Progress(ctx)
		if err != nil {
			return 0, err
		}
		if !s.Running() && s.Generation > 0 {
			return 0, nil // too small a tenant to catch the sync half-way
		}
		if p.ListingDone || (p.Total > 0 && p.Done*2 >= p.Total) {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	truth, err := sim.Truth("")
	if err != nil {
		return 0, err
	}
	// The last group by email: the sweep has not read it yet.
	g := truth.Groups[0]
	for _, c := range truth.Groups {
		if c.Email > g.Email {
			g = c
		}
	}
	const member = "bench-pushed@outside.test"
	if err := sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: member}}); err != nil {
		return 0, err
	}
	start := sim.Now()
	t, err := tasks.New(tasks.QueueDirectory, tasks.PathDirectoryRefresh, "", tasks.Refresh{
		Group: g.Email, Reason: "bench", Expect: []tasks.Expectation{{Member: member, Present: true}},
	}, time.Time{})
	if err != nil {
		return 0, err
	}
	if err := app.Dispatcher.Enqueue(ctx, t); err != nil {
		return 0, err
	}
	for {
		if c, err := app.Store.Group(ctx, g.ID); err == nil {
			if ms, err := app.Store.Members(ctx, c.ID); err == nil {
				for _, m := range ms {
					if m.Email == member {
						return sim.Now().Sub(start), nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func waitFinished(ctx context.Context, app *local.App) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		_, s, err := app.Directory.Progress(ctx)
		if err != nil {
			return err
		}
		if s.Generation > 0 && !s.Running() {
			return nil
		}
	}
}

func directoryCalls(st workspacesim.Stats) map[string]int64 {
	out := map[string]int64{}
	for k, v := range st.Calls {
		if len(k) > len("directory.") && k[:len("directory.")] == "directory." {
			out[k] = v
		}
	}
	return out
}

// NaiveCrawl is the way Greep replaces: list every group, then list every group's
// members (every page, empty groups included), as fast as the client goes, backing off
// a second when told the rate limit is exceeded. It runs against its own simulator of the
// same tenant (same seed) and reports the same figures; it stores nothing.
func NaiveCrawl(ctx context.Context, o Options) (*Result, error) {
	srv, err := workspacesim.Start(workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.NaiveTimeScale})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
	if err != nil {
		return nil, err
	}
	dir := clients.Directory
	wall, start := time.Now(), srv.Sim.Now()
	retry := func(call func() error) error {
		for {
			err := call()
			var ge *googleapi.Error
			if errors.As(err, &ge) && (ge.Code == 429 || ge.Code == 403 && len(ge.Errors) > 0 && ge.Errors[0].Reason == "userRateLimitExceeded") {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
				continue
			}
			return err
		}
	}
	var ids []string
	tok := ""
	for {
		var res *admin.Groups
		err := retry(func() error {
			r, err := dir.Groups.List().Customer("my_customer").MaxResults(200).PageToken(tok).Context(ctx).Do()
			res = r
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, g := range res.Groups {
			ids = append(ids, g.Id)
		}
		if tok = res.NextPageToken; tok == "" {
			break
		}
	}
	var members int64
	for _, id := range ids {
		tok := ""
		for {
			var res *admin.Members
			err := retry(func() error {
				r, err := dir.Members.List(id).MaxResults(200).PageToken(tok).Context(ctx).Do()
				res = r
				return err
			})
			if err != nil {
				return nil, err
			}
			members += int64(len(res.Members))
			if tok = res.NextPageToken; tok == "" {
				break
			}
		}
	}
	st := srv.Sim.Stats()
	out := &Result{Scenario: "naive-crawl", Groups: len(ids), Members: members, Calls: directoryCalls(st),
		QuotaErrors: st.Rejected.RateLimit + st.Rejected.DailyLimit, TimeScale: o.NaiveTimeScale,
		SimulatedSeconds: srv.Sim.Now().Sub(start).Seconds(), WallSeconds: time.Since(wall).Seconds()}
	var calls int64
	for _, n := range out.Calls {
		calls += n
	}
	if out.SimulatedSeconds > 0 {
		out.AchievedPerSecond = float64(calls) / out.SimulatedSeconds
	}
	return out, nil
}
