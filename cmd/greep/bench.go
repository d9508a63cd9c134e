package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/greephq/greep/pkg/bench"
)

// scenarios are the benchmark scenarios `greep bench` knows.
var scenarios = map[string]func(context.Context, bench.Options) (*bench.Result, error){
	"full-sync": bench.FullSync,
}

func runBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("greep bench", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	scenario := fs.String("scenario", "full-sync", "scenario to run: full-sync")
	o := bench.Options{Seed: 1, QueuesFile: "queues.yaml"}
	fs.IntVar(&o.Users, "users", 5000, "users of the generated tenant")
	fs.IntVar(&o.Groups, "groups", 45000, "groups of the generated tenant")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed of the generated tenant")
	fs.Float64Var(&o.TimeScale, "time-scale", 1, "simulated clock speed for Greep's run (figures are in simulated time)")
	fs.Float64Var(&o.NaiveTimeScale, "naive-time-scale", 60, "simulated clock speed for the naive crawl (0 skips it)")
	fs.StringVar(&o.QueuesFile, "queues", o.QueuesFile, "queues.yaml `FILE`")
	fs.StringVar(&o.DataDir, "data", "", "`DIR` for the store (a temporary directory if empty)")
	asJSON := fs.Bool("json", false, "print one JSON object per scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	run, ok := scenarios[*scenario]
	if !ok {
		names := make([]string, 0, len(scenarios))
		for n := range scenarios {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("greep bench: unknown scenario %q (have %v)", *scenario, names)
	}
	if o.Users < 1 || o.Groups < 0 || !(o.TimeScale > 0) || o.NaiveTimeScale < 0 {
		return fmt.Errorf("greep bench: --users must be at least 1, --groups not negative, --time-scale positive")
	}
	res, err := run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	printResult(out, res)
	return nil
}

func printResult(out io.Writer, r *bench.Result) {
	fmt.Fprintf(out, "%s: %d users, %d groups, %d members\n", r.Scenario, r.Users, r.Groups, r.Members)
	keys := make([]string, 0, len(r.Calls))
	for k := range r.Calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
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
	if n := r.Naive; n != nil {
		var calls int64
		for _, v := range n.Calls {
			calls += v
		}
		fmt.Fprintf(out, "naive crawl: %d calls, %d quota errors, %.0f simulated s\n", calls, n.QuotaErrors, n.SimulatedSeconds)
	}
}
