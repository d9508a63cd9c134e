package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/greephq/greep/pkg/bench"
)

// scenarios are the benchmark scenarios `greep bench` knows.
var scenarios = map[string]func(context.Context, bench.Options) (*bench.Result, error){
	"full-sync":      bench.FullSync,
	"floor":          bench.FloorScenario,
	"read":           bench.Read,
	"during-sync":    bench.DuringSync,
	"push":           bench.Push,
	"settings-sweep": bench.SettingsSweep,
	"day":            bench.Day,
	"faults":         bench.Faults,
	"backfill":       bench.Backfill,
	"rest":           bench.Rest,
	"rules":          bench.Rules,
}

// clusterScenarios are the scenarios `greep bench --target cluster` runs against greep
// cluster instead of greep local's wiring.
var clusterScenarios = map[string]func(context.Context, bench.Options) (*bench.Result, error){
	"full-sync": bench.ClusterFullSync,
	"faults":    bench.ClusterFaults,
}

// scenarioOrder is the order `greep bench` without --scenario runs them in.
var scenarioOrder = []string{"full-sync", "floor", "read", "during-sync", "push", "settings-sweep", "day", "faults", "backfill", "rest", "rules"}

func runBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("greep bench", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	scenario := fs.String("scenario", "", "scenario to run: "+strings.Join(scenarioOrder, ", ")+" (every one if empty)")
	o := bench.Options{Seed: 1, QueuesFile: "queues.yaml"}
	fs.IntVar(&o.Users, "users", 500, "users of the generated tenant (the origin has 5000)")
	fs.IntVar(&o.Groups, "groups", 1000, "groups of the generated tenant (the origin has 45000)")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed of the generated tenant")
	fs.Float64Var(&o.TimeScale, "time-scale", 0, "simulated clock speed for Greep's run (figures are in simulated time; 0: each scenario's own)")
	fs.Float64Var(&o.NaiveTimeScale, "naive-time-scale", 60, "simulated clock speed for the naive crawl (0 skips it)")
	fs.StringVar(&o.QueuesFile, "queues", o.QueuesFile, "queues.yaml `FILE`")
	fs.StringVar(&o.DataDir, "data", "", "`DIR` for the store (a temporary directory if empty)")
	fs.StringVar(&o.ReadClient, "read-client", "go", "the read scenario's load generator: go (its own) or wrk (on PATH; scripts/wrk.sh installs it)")
	fs.DurationVar(&o.RestWindow, "rest-window", bench.DefaultRestWindow, "how long the rest scenario measures the idle process's CPU")
	fs.StringVar(&o.Profile, "profile", "", "write a CPU profile of the measured window (rest: the idle process; floor: Greep's sync; read: Greep and the static server, the latter labelled side=static) to `FILE`")
	asJSON := fs.Bool("json", false, "print one JSON object per scenario")
	target := fs.String("target", "local", "what runs Greep: local (greep local's wiring, in process) or cluster (greep cluster: a process per service; full-sync and faults only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	table := scenarios
	run := scenarioOrder
	switch *target {
	case "local":
	case "cluster":
		root, err := findRoot()
		if err != nil {
			return err
		}
		o.ClusterRoot, table, run = root, clusterScenarios, []string{"full-sync", "faults"}
		if *scenario != "" {
			if _, ok := table[*scenario]; !ok {
				return fmt.Errorf("greep bench: --target cluster runs full-sync and faults, not %q", *scenario)
			}
		}
	default:
		return fmt.Errorf("greep bench: --target %q: want local or cluster", *target)
	}
	if *scenario != "" {
		if _, ok := table[*scenario]; !ok {
			names := make([]string, 0, len(scenarios))
			for n := range scenarios {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("greep bench: unknown scenario %q (have %v)", *scenario, names)
		}
		run = []string{*scenario}
	}
	if o.Users < 1 || o.Groups < 0 || o.TimeScale < 0 || o.NaiveTimeScale < 0 {
		return fmt.Errorf("greep bench: --users must be at least 1, --groups, --time-scale and --naive-time-scale not negative")
	}
	// The faults scenario kills `greep local`: this very binary has it, under go run too.
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("greep bench: finding the greep binary: %w", err)
	}
	o.GreepBinary = exe
	// A failed scenario does not stop the others; the run fails at the end. A scenario
	// that ran and found something wrong (faults) returns its figures with the error.
	var errs []error
	for _, name := range run {
		res, err := table[name](ctx, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("greep bench: %s: %w", name, err))
			fmt.Fprintln(os.Stderr, errs[len(errs)-1])
			if res == nil {
				continue
			}
		}
		if *asJSON {
			if err := json.NewEncoder(out).Encode(res); err != nil {
				return err
			}
			continue
		}
		printResult(out, res)
	}
	return errors.Join(errs...)
}

func printResult(out io.Writer, r *bench.Result) {
	fmt.Fprintf(out, "%s: %d users, %d groups, %d members\n", r.Scenario, r.Users, r.Groups, r.Members)
	keys := make([]string, 0, len(r.Calls))
	for k := range r.Calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if r.PlannedCalls == nil {
			fmt.Fprintf(out, "  %-30s %8d calls\n", k, r.Calls[k])
			continue
		}
		fmt.Fprintf(out, "  %-26s %8d calls (planned %d)\n", k, r.Calls[k], r.PlannedCalls[k])
	}
	fmt.Fprintf(out, "  quota errors %d; %.1f calls/s of %.1f allowed (utilization %.0f%%)\n", r.QuotaErrors, r.AchievedPerSecond, r.AllowedPerSecond, 100*r.Utilization)
	fmt.Fprintf(out, "  %.0f simulated s, %.0f wall s (time ×%g); cache equals truth: %v\n", r.SimulatedSeconds, r.WallSeconds, r.TimeScale, r.CacheEqualsTruth)
	if r.PushRefreshSeconds > 0 {
		fmt.Fprintf(out, "  a push refresh requested mid-sync reached the cache in %.1f simulated s (its calls are in the counts above)\n", r.PushRefreshSeconds)
	}
	for _, d := range r.Differences {
		fmt.Fprintln(out, "    ", d)
	}
	printExtras(out, r)
	if n := r.Naive; n != nil {
		var calls int64
		for _, v := range n.Calls {
			calls += v
		}
		fmt.Fprintf(out, "%s: %d calls, %d quota errors, %.0f simulated s\n", n.Scenario, calls, n.QuotaErrors, n.SimulatedSeconds)
		printExtras(out, n)
	}
}

// printExtras prints the freshness and the scenario's own figures, if any.
func printExtras(out io.Writer, r *bench.Result) {
	if f := r.Freshness; f != nil {
		fmt.Fprintf(out, "  freshness (simulated s): p50 %.1f, p95 %.1f, max %.1f over %d changes (%d never seen)\n", f.P50, f.P95, f.Max, f.Changes, f.Unseen)
	}
	if len(r.Figures) > 0 {
		b, _ := json.Marshal(r.Figures)
		fmt.Fprintf(out, "  figures %s\n", b)
	}
}
