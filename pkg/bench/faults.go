package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/greephq/greep/pkg/faults"
)

// Faults runs the fault scenarios of pkg/faults at the benchmark's size (Users, Groups,
// Seed; TimeScale 0 is theirs, 200): 10% of API calls failing and 5% slow during a full
// sync and a remediation run, 20% of push notifications dropped then repaired by a
// resync, and the greep binary (GreepBinary) killed with SIGKILL five times mid-sync and
// mid-remediation. Each report goes under Figures ("injectedErrors", "droppedPushes",
// "kills"); CacheEqualsTruth holds when every scenario that ran ended with the cache
// equal to the truth. Without GreepBinary the kills are skipped, and the figure says so.
//
// There is no naive way to measure against: a poller has no queued task to lose and no
// patch to apply twice, so these figures stand alone. A scenario that could not run, or
// ran and found an invariant broken (a Problem), makes Faults return an error naming it,
// with the figures.
func Faults(ctx context.Context, o Options) (*Result, error) {
	wall := time.Now()
	c := faults.Config{
		Users: o.Users, Groups: o.Groups, Seed: o.Seed, KillSeed: uint64(o.Seed),
		TimeScale: o.TimeScale, QueuesFile: o.QueuesFile, TempDir: scratch(),
		GreepBinary: o.GreepBinary,
	}
	scenarios := []struct {
		name string
		run  func(context.Context, faults.Config) (*faults.Report, error)
	}{
		{"injectedErrors", faults.InjectedErrors},
		{"droppedPushes", faults.DroppedPushes},
		{"kills", faults.Kills},
	}
	var runs []faultRun
	for _, s := range scenarios {
		sc := c
		if o.DataDir != "" {
			sc.DataDir = filepath.Join(o.DataDir, "faults-"+s.name)
		}
		if s.name == "kills" && o.GreepBinary == "" {
			runs = append(runs, faultRun{name: s.name, skipped: "no greep binary (bench.Options.GreepBinary)"})
			continue
		}
		r, err := s.run(ctx, sc)
		runs = append(runs, faultRun{name: s.name, report: r, err: err})
		if ctx.Err() != nil {
			break
		}
	}
	res := &Result{Scenario: "faults", Users: o.Users, Groups: o.Groups}
	err := summarize(res, runs)
	res.WallSeconds = round(time.Since(wall).Seconds())
	return res, err
}

// faultRun is one fault scenario's outcome: a report, an error (it could not run), or
// why it was skipped.
type faultRun struct {
	name    string
	report  *faults.Report
	err     error
	skipped string
}

// summarize fills res from the runs (every report under Figures, the calls of all of
// them together) and returns an error naming every run that failed to run and every
// problem found.
func summarize(res *Result, runs []faultRun) error {
	res.Figures = map[string]any{}
	res.Calls = map[string]int64{}
	res.CacheEqualsTruth = true
	var errs []error
	ran := 0
	for _, r := range runs {
		switch {
		case r.skipped != "":
			res.Figures[r.name] = "skipped: " + r.skipped
			continue
		case r.err != nil:
			res.Figures[r.name] = "could not run: " + r.err.Error()
			res.CacheEqualsTruth = false
			errs = append(errs, fmt.Errorf("%s: %w", r.name, r.err))
			continue
		}
		ran++
		rep := r.report
		res.Figures[r.name] = rep
		res.Users, res.Groups, res.Members = rep.Users, rep.Groups, int64(rep.Members)
		res.TimeScale = rep.TimeScale
		res.QuotaErrors += rep.QuotaErrors
		for k, v := range rep.Calls {
			res.Calls[k] += v
		}
		if !rep.CacheEqualsTruth {
			res.CacheEqualsTruth = false
			res.Differences = append(res.Differences, rep.Differences...)
		}
		for _, p := range rep.Problems {
			errs = append(errs, fmt.Errorf("%s: %s", r.name, p))
		}
	}
	if ran == 0 {
		res.CacheEqualsTruth = false
	}
	return errors.Join(errs...)
}
