package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The quotas the scenarios' simulators enforce: Google's published Groups Settings
// limit and the Directory and Reports figures queues.yaml sizes Greep against, so a
// scenario that crosses one is refused as Google would refuse it.
var dailyQuotas = map[string]int64{
	workspacesim.APIDirectory:      5_000_000,
	workspacesim.APIGroupsSettings: 100_000,
	workspacesim.APIReports:        5_000_000,
}

// env is a simulator and a greep local in front of it, as a scenario runs them.
type env struct {
	srv   *workspacesim.Server
	sim   *workspacesim.Sim
	app   *local.App
	store greep.Store
	dir   string
	wall  time.Time
}

// startEnv starts the simulator of sc and a greep local against it, configured by tune
// (which sees the defaults: embedded store in a temporary directory, push and
// remediation on, resync off unless tune turns it on).
func startEnv(ctx context.Context, o Options, sc workspacesim.Config, tune func(*local.Config)) (e *env, err error) {
	e = &env{wall: time.Now()}
	if e.srv, err = workspacesim.Start(sc); err != nil {
		return nil, err
	}
	e.sim = e.srv.Sim
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	e.dir = o.DataDir
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp(scratch(), "greep-bench-"); err != nil {
			return e, err
		}
	}
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = e.dir
	cfg.APIToken = "bench"
	cfg.Workspace, cfg.SimClock, cfg.AdminSubject = e.srv.URL, e.sim.Now, e.sim.Admin()
	cfg.TimeScale = sc.TimeScale
	cfg.ResyncEvery = 0
	if o.QueuesFile != "" {
		cfg.QueuesFile = o.QueuesFile
	}
	if tune != nil {
		tune(&cfg)
	}
	if e.app, err = local.Start(ctx, cfg); err != nil {
		return e, err
	}
	e.store = e.app.Store
	return e, nil
}

// scratch is where a scenario's store goes when no --data is given: a memory file
// system when the machine has one, so the figures measure Greep rather than the disk's
// fsync (on a shared disk, bbolt's fsync per write transaction held a whole process to
// about 35 tasks a second; on /dev/shm the same sync ran seven times faster).
func scratch() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

func (e *env) close() {
	if e.app != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = e.app.Close(ctx)
		cancel()
	}
	if e.srv != nil {
		e.srv.Close()
	}
	if e.dir != "" && strings.Contains(e.dir, "greep-bench-") {
		os.RemoveAll(e.dir)
	}
}

// waitChannels waits until the simulator counts want live watch channels: before that,
// changes reach no webhook.
func (e *env) waitChannels(ctx context.Context, want int, limit time.Duration) error {
	return waitUntil(ctx, limit, fmt.Sprintf("%d live watch channels", want), func() (bool, error) {
		return e.sim.Stats().Channels >= want, nil
	})
}

// waitUntil polls cond every 10 ms of wall time until it holds, fails or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %v", what, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// settle waits, up to limit, until the cache equals the truth. A change the watcher saw
// provisionally is in the cache before Google's read: the debounced read that confirms
// it (and gives an outside member the id Google lists) may still be on its way when the
// watcher is done, so a comparison made at once could catch the provisional entry. A
// cache still different at the limit is left for tenantFigures to report.
func (e *env) settle(ctx context.Context, limit time.Duration) error {
	truth, err := e.sim.Truth("")
	if err != nil {
		return err
	}
	var diffErr error
	_ = waitUntil(ctx, limit, "cache equal to the truth", func() (bool, error) {
		diffs, err := truthdiff.Diff(ctx, e.store, truth, 1)
		diffErr = err
		return len(diffs) == 0, err
	})
	if diffErr != nil {
		return diffErr
	}
	return ctx.Err()
}

// tenantFigures fills the tenant's size and, against the truth, whether the cache equals
// it.
func (e *env) tenantFigures(ctx context.Context, res *Result) error {
	truth, err := e.sim.Truth("")
	if err != nil {
		return err
	}
	res.Users, res.Groups, res.Members = len(truth.Users), len(truth.Groups), 0
	for _, g := range truth.Groups {
		res.Members += int64(len(g.Members))
	}
	if res.Differences, err = truthdiff.Diff(ctx, e.store, truth, 5); err != nil {
		return err
	}
	res.CacheEqualsTruth = len(res.Differences) == 0
	return nil
}

// statsDelta is what the simulator counted between two snapshots.
type statsDelta struct {
	calls      map[string]int64
	rateLimit  int64
	dailyLimit int64
	pushes     int64
	// pushRetried and pushFailed count notifications the webhook did not take at once.
	pushRetried, pushFailed int64
	simDuration             time.Duration
}

func delta(before, after workspacesim.Stats) statsDelta {
	d := statsDelta{calls: map[string]int64{}}
	for k, v := range after.Calls {
		if n := v - before.Calls[k]; n > 0 {
			d.calls[k] = n
		}
	}
	d.rateLimit = after.Rejected.RateLimit - before.Rejected.RateLimit
	d.dailyLimit = after.Rejected.DailyLimit - before.Rejected.DailyLimit
	d.pushes = after.Pushes.Delivered - before.Pushes.Delivered
	d.pushRetried = after.Pushes.Retried - before.Pushes.Retried
	d.pushFailed = after.Pushes.Failed - before.Pushes.Failed
	d.simDuration = after.Now.Sub(before.Now)
	return d
}

// apiCalls sums the calls of one API ("directory.", "groupssettings.", "reports.").
func apiCalls(calls map[string]int64, api string) int64 {
	var n int64
	for k, v := range calls {
		if strings.HasPrefix(k, api+".") {
			n += v
		}
	}
	return n
}

// fillCalls sets the calls, quota errors, durations and the directory utilization.
func (e *env) fillCalls(res *Result, d statsDelta) {
	res.Calls = d.calls
	res.QuotaErrors = d.rateLimit + d.dailyLimit
	res.SimulatedSeconds = round(d.simDuration.Seconds())
	res.WallSeconds = round(time.Since(e.wall).Seconds())
	res.AllowedPerSecond = round(usableRate(e.app.Queues, workspacesim.APIDirectory))
	if res.SimulatedSeconds > 0 {
		res.AchievedPerSecond = float64(apiCalls(d.calls, workspacesim.APIDirectory)) / d.simDuration.Seconds()
	}
	if res.AllowedPerSecond > 0 {
		res.Utilization = res.AchievedPerSecond / res.AllowedPerSecond
	}
}

// hasMember reports whether the cache lists email among the group's members.
func hasMember(ctx context.Context, store greep.GroupStore, groupID, email string) (bool, error) {
	ms, err := store.Members(ctx, groupID)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if strings.EqualFold(m.Email, email) {
			return true, nil
		}
	}
	return false, nil
}

// sameTenant gives the naive way's result the tenant's size, which it shares.
func sameTenant(res *Result) {
	if n := res.Naive; n != nil {
		n.Users, n.Groups, n.Members = res.Users, res.Groups, res.Members
	}
}
