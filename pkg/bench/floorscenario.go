package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/greephq/greep/pkg/local"
	queuelocal "github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/workspacesim"
	"golang.org/x/time/rate"
)

// FloorScenario runs a full sync and the floor (Floor) against the same simulator, run
// as a child process so that this process's CPU time (/proc/self/stat) is theirs alone, and
// compares Greep's CPU per Directory call with the floor's. Push and remediation are
// off: the figure is what the directory sync costs. The floor runs floorRuns times
// before Greep and floorRuns times after, on a fresh heap each and under Greep's
// collector settings, and Greep is judged against the median of them all; then the
// paced floor, held to the rate Greep's lanes allowed (the Directory API's usable rate
// at the time scale, in the batches Greep's sweep lane dispatches), shows what pacing
// alone adds.
func FloorScenario(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 10
	}
	sim, err := startSimProcess(ctx, o)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	dir, err := os.MkdirTemp(scratch(), "greep-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := &Result{Scenario: "floor", Users: o.Users, Groups: o.Groups, TimeScale: o.TimeScale, Figures: map[string]any{}}
	res.Figures["loadAverageBefore"] = loadAverage()

	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir + "/greep"
	cfg.APIToken = "bench"
	cfg.Workspace, cfg.AdminSubject, cfg.TimeScale = sim.URL, sim.Subject, o.TimeScale
	cfg.ResyncEvery = 0
	cfg.NoPush, cfg.NoRemediation = true, true
	if o.QueuesFile != "" {
		cfg.QueuesFile = o.QueuesFile
	}
	floor, floorBefore, gcPercent, err := runFloors(ctx, sim, dir, "before", cfg)
	if err != nil {
		return nil, err
	}
	res.Figures["gcPercent"] = gcPercent
	before, err := sim.stats(ctx)
	if err != nil {
		return nil, err
	}

	var c0, c1 time.Duration
	runtime.GC()
	stopProfile, err := startProfile(o.Profile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	wall := time.Now()
	if c0, err = processCPU(); err != nil {
		return nil, err
	}
	app, err := local.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer app.Close(context.Background())
	w0 := storeWrites(app.Store)
	if err := waitFinished(ctx, app); err != nil {
		return nil, err
	}
	c1, err = processCPU()
	stopProfile()
	if err != nil {
		return nil, err
	}
	greepCPU := c1 - c0
	res.WallSeconds = time.Since(wall).Seconds()
	w1 := storeWrites(app.Store)
	after, err := sim.stats(ctx)
	if err != nil {
		return nil, err
	}
	res.Calls = map[string]int64{}
	var calls int64
	for k, n := range directoryCalls(after) {
		if d := n - before.Calls[k]; d > 0 {
			res.Calls[k] = d
			calls += d
		}
	}
	res.QuotaErrors = (after.Rejected.RateLimit + after.Rejected.DailyLimit) - (before.Rejected.RateLimit + before.Rejected.DailyLimit)
	res.Members = floor.Members
	res.Figures["loadAverageAfter"] = loadAverage()
	if calls == 0 || floor.Calls == 0 {
		return res, fmt.Errorf("no calls to compare (Greep %d, floor %d)", calls, floor.Calls)
	}
	perCall(res.Figures, w0, w1, calls)

	// The paced floor: the same floor held to the rate Greep's lanes allowed it, in the
	// batches the sweep lane dispatches (queuelocal.Batch, at the lane's rate in simulated
	// time), after Greep has stopped, so that the process's CPU is the floor's alone again.
	// Before it, the floor's second set of back-to-back runs.
	pace := usableRate(app.Queues, workspacesim.APIDirectory) * o.TimeScale
	if err := app.Close(ctx); err != nil {
		return nil, err
	}
	_, floorAfter, _, err := runFloors(ctx, sim, dir, "after", cfg)
	if err != nil {
		return nil, err
	}
	floorRuns := slices.Concat(floorBefore, floorAfter)
	slices.Sort(floorRuns)
	batch := queuelocal.Batch(pace / o.TimeScale)
	pacedPer, err := runPacedFloor(ctx, sim, dir+"/paced", cfg, pace, batch)
	if err != nil {
		return nil, err
	}
	greepPer := greepCPU.Seconds() * 1000 / float64(calls)
	floorPer := median(floorRuns)
	res.Figures["greepCPUSeconds"] = greepCPU.Seconds()
	res.Figures["greepCPUPerCallMs"] = greepPer
	res.Figures["floorCalls"] = floor.Calls
	res.Figures["floorCPUPerCallMs"] = floorPer
	res.Figures["floorCPUPerCallMsRuns"] = floorRuns
	res.Figures["floorCPUPerCallMsBefore"] = floorBefore
	res.Figures["floorCPUPerCallMsAfter"] = floorAfter
	res.Figures["floorTxPerCall"] = float64(floor.Transactions) / float64(floor.Calls)
	res.Figures["cpuPerCallRatio"] = greepPer / floorPer
	res.Figures["pacedFloorCallsPerSecond"] = round(pace)
	res.Figures["pacedFloorBatch"] = batch
	res.Figures["pacedFloorCPUPerCallMs"] = pacedPer
	res.Figures["cpuPerCallRatioPaced"] = greepPer / pacedPer
	return res, nil
}

// floorRuns is how many times the floor runs back to back on each side of Greep's sync.
// One run's CPU per call moved by a third between runs on a quiet machine (0.15 to 0.26
// ms at 3,000 groups), and the machine's speed drifts over minutes: with every floor run
// before Greep's, the ratio of one bench run moved with the drift (1.39 to 1.92 for the
// same build at 12,000 groups). The ratio uses the median of the runs before and after.
const floorRuns = 2

// runFloors runs the floor floorRuns times, each into a new store under dir (named by
// tag and the run), and returns the last run's result, each run's CPU per call in
// milliseconds in the order they ran, and the collector's GOGC while they ran.
//
// The floor runs under the collector settings Greep runs under (cfg's, or GOGC and
// GOMEMLIMIT from the environment): at Go's default a small program collects about as
// often as Greep did before it raised GOGC, and the floor took 15% more CPU a call at
// 3,000 groups (0.18 ms against 0.15), which flattered Greep's ratio.
func runFloors(ctx context.Context, sim *simProcess, dir, tag string, cfg local.Config) (last FloorRun, perCall []float64, gcPercent int, err error) {
	restoreGC := local.TuneGC(cfg)
	defer restoreGC()
	gcPercent = currentGCPercent()
	for i := range floorRuns {
		d := fmt.Sprintf("%s/floor-%s%d", dir, tag, i)
		if err := os.Mkdir(d, 0o700); err != nil {
			return FloorRun{}, nil, 0, err
		}
		runtime.GC()
		c0, err := processCPU()
		if err != nil {
			return FloorRun{}, nil, 0, err
		}
		r, err := (&Floor{Base: sim.URL, Subject: sim.Subject, Dir: d}).Run(ctx)
		if err != nil {
			return FloorRun{}, nil, 0, err
		}
		c1, err := processCPU()
		if err != nil {
			return FloorRun{}, nil, 0, err
		}
		if r.Calls == 0 {
			return FloorRun{}, nil, 0, fmt.Errorf("the floor made no calls")
		}
		last = r
		perCall = append(perCall, (c1-c0).Seconds()*1000/float64(r.Calls))
	}
	return last, perCall, gcPercent, nil
}

// runPacedFloor runs the floor into a new store at dir, held to pace calls a second in
// batches of batch, under the collector settings Greep runs under, and returns its CPU
// per call in milliseconds.
func runPacedFloor(ctx context.Context, sim *simProcess, dir string, cfg local.Config, pace float64, batch int) (float64, error) {
	restoreGC := local.TuneGC(cfg)
	defer restoreGC()
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, err
	}
	runtime.GC()
	c0, err := processCPU()
	if err != nil {
		return 0, err
	}
	r, err := (&Floor{Base: sim.URL, Subject: sim.Subject, Dir: dir, Pace: rate.NewLimiter(rate.Limit(pace), 2*batch), Batch: batch}).Run(ctx)
	if err != nil {
		return 0, err
	}
	c1, err := processCPU()
	if err != nil {
		return 0, err
	}
	if r.Calls == 0 {
		return 0, fmt.Errorf("the paced floor made no calls")
	}
	return (c1 - c0).Seconds() * 1000 / float64(r.Calls), nil
}

// currentGCPercent is the collector's GOGC now (the runtime has no getter: setting it
// returns the previous value, which is put straight back).
func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// median is the middle of sorted xs, or the mean of its two middle values.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
