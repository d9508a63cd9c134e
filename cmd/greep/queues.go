package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/tasks"
)

func runQueues(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("greep queues: want a subcommand: plan or apply")
	}
	switch args[0] {
	case "plan":
		return runQueuesPlan(args[1:], out)
	case "apply":
		return runQueuesApply(ctx, args[1:], out)
	default:
		return fmt.Errorf("greep queues: unknown subcommand %q (want plan or apply)", args[0])
	}
}

func runQueuesPlan(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("greep queues plan", flag.ContinueOnError)
	file := fs.String("file", "queues.yaml", "the queue configuration")
	groups := fs.Int("groups", queueconfig.DefaultGroups, "groups in the tenant, for the sweep time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("greep queues plan: unexpected arguments %q", fs.Args())
	}
	if *groups <= 0 {
		return fmt.Errorf("greep queues plan: --groups %d: must be positive", *groups)
	}
	cfg, err := queueconfig.Load(*file)
	if err != nil {
		return err
	}
	writePlan(out, cfg, *groups)
	return nil
}

// writePlan prints the derived figures of every lane, then each API's quota, then any
// warning.
func writePlan(out io.Writer, cfg *queueconfig.Config, groups int) {
	plans := cfg.Plan(groups)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "QUEUE\tAPI\tSHARE\tRATE/S\tCEILING/S\tCONCURRENCY\tCALLS/DAY\tSTOPS AT\tSWEEP OF %d GROUPS\tALONE\n", groups)
	var warnings []string
	for _, p := range plans {
		api, share, stops := p.API, fmt.Sprintf("%.2f", p.Share), "daily limit"
		if p.API == "" {
			api, share, stops = "-", "-", "-"
		} else if p.Background {
			stops = fmt.Sprintf("%d/day", p.DailyCap)
		}
		sweep := fmtDuration(p.Sweep)
		if p.SweepDays > 1 {
			sweep = fmt.Sprintf("%d quota days", p.SweepDays)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.2f\t%d\t%d\t%s\t%s\t%s\n", p.Lane, api, share, p.RatePerSecond, p.CeilingPerSecond, p.Concurrency, p.CallsPerDay, stops, sweep, fmtDuration(p.SweepAlone))
		for _, w := range p.Warnings {
			warnings = append(warnings, p.Lane+": "+w)
		}
	}
	tw.Flush()

	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "API\tSHORT WINDOW\tSUBJECTS\tHEADROOM\tUSABLE RATE/S\tDAILY LIMIT")
	for _, name := range cfg.APINames() {
		a := cfg.APIs[name]
		window := fmt.Sprintf("%d per %s", a.WindowLimit, fmtDuration(a.Window))
		if a.SharesWindowWith != "" {
			window = a.SharesWindowWith + "'s"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f%%\t%.2f\t%d\n", a.Name, window, a.Subjects, a.Headroom*100, a.PerSecond(), a.PerDay)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nQuota day: midnight to midnight %s.\n", cfg.TimeZone)

	if m := cfg.Missing(tasks.QueueDirectory, tasks.QueueDirectorySweep, tasks.QueueSettings,
		tasks.QueueSettingsSweep, tasks.QueueReports, tasks.QueueRemediation); len(m) > 0 {
		warnings = append(warnings, "queues the services enqueue to but the file lacks: "+strings.Join(m, ", "))
	}
	for _, w := range warnings {
		fmt.Fprintln(out, "warning:", w)
	}
}

// fmtDuration prints 1h0m0s as 1h, 30m0s as 30m: plans are read by people.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func runQueuesApply(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("greep queues apply", flag.ContinueOnError)
	file := fs.String("file", "queues.yaml", "the queue configuration")
	project := fs.String("project", "", "Google Cloud project of the App Engine app (required)")
	location := fs.String("location", "", "Cloud Tasks location, the App Engine app's region (required)")
	dryRun := fs.Bool("dry-run", false, "show what would change, change nothing")
	endpoint := fs.String("endpoint", os.Getenv("GREEP_TASKS_ENDPOINT"), "a Cloud Tasks emulator's gRPC `HOST:PORT` (greep cluster's), spoken to without credentials; empty for Google (env GREEP_TASKS_ENDPOINT)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: greep queues apply --project P --location L [--file queues.yaml] [--dry-run] [--endpoint HOST:PORT]")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(fs.Output(), "  --%s\t%s\n", f.Name, f.Usage)
		})
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("greep queues apply: unexpected arguments %q", fs.Args())
	}
	if *project == "" || *location == "" {
		return errors.New("greep queues apply: --project and --location are required")
	}
	loc := cloudtasks.Location{Project: *project, Location: *location}
	if err := loc.Validate(); err != nil {
		return fmt.Errorf("greep queues apply: %w", err)
	}
	cfg, err := queueconfig.Load(*file)
	if err != nil {
		return err
	}
	client, err := cloudtasks.NewClient(ctx, *endpoint)
	if err != nil {
		return err
	}
	defer client.Close()
	results, err := cloudtasks.Apply(ctx, client, loc, cfg, *dryRun)
	writeApply(out, results, *dryRun)
	if err != nil {
		return fmt.Errorf("greep queues apply: %w", err)
	}
	return nil
}

// writeApply prints, per queue, what was (or would be) created or changed.
func writeApply(out io.Writer, results []cloudtasks.Result, dryRun bool) {
	verb := map[bool]string{true: "would ", false: ""}[dryRun]
	changed := 0
	for _, r := range results {
		switch {
		case r.Created:
			fmt.Fprintf(out, "%s: %screate\n", r.Queue, verb)
		case len(r.Changes) > 0:
			fmt.Fprintf(out, "%s: %supdate\n", r.Queue, verb)
		default:
			fmt.Fprintf(out, "%s: unchanged\n", r.Queue)
		}
		for _, c := range r.Changes {
			if r.Created {
				fmt.Fprintf(out, "    %s = %s\n", c.Field, c.To)
			} else {
				fmt.Fprintf(out, "    %s: %s -> %s\n", c.Field, c.From, c.To)
			}
		}
		if r.State != "" {
			fmt.Fprintf(out, "    note: the queue is %s; apply does not resume it\n", r.State)
		}
		if r.Created || len(r.Changes) > 0 {
			changed++
		}
	}
	if dryRun {
		fmt.Fprintf(out, "dry run: %d of %d queues would change; nothing was changed\n", changed, len(results))
	} else {
		fmt.Fprintf(out, "%d of %d queues changed\n", changed, len(results))
	}
}
