package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap/zapcore"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/logging"
)

// localConfig reads greep local's flags (and the environment Google's tools use for
// Datastore) into local.Config; printConfig is --print-config.
func localConfig(args []string, stderr io.Writer, logTo zapcore.WriteSyncer) (cfg local.Config, printConfig bool, err error) {
	cfg = local.Defaults()
	fs := flag.NewFlagSet("greep local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "`HOST:PORT` to serve every service, the read API and the dashboard on")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "`DIR` of the embedded store (and so of the queued tasks)")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "embedded (a file under --data) or datastore (DATASTORE_PROJECT_ID, DATASTORE_EMULATOR_HOST)")
	fs.StringVar(&cfg.APIToken, "api-token", os.Getenv("GREEP_API_TOKEN"), "bearer `TOKEN` of the read API (if empty: the one kept in --data, or a random one kept there; env GREEP_API_TOKEN)")
	fs.StringVar(&cfg.Workspace, "workspace", cfg.Workspace, "empty for an embedded simulator, a greep sim `URL`, or google")
	fs.StringVar(&cfg.AdminSubject, "admin-subject", cfg.AdminSubject, "admin `EMAIL` to act as (domain-wide delegation; required with --workspace google)")
	fs.StringVar(&cfg.ServiceAccount, "service-account", cfg.ServiceAccount, "delegated service account `EMAIL` to impersonate without a key (with --workspace google)")
	fs.IntVar(&cfg.SimUsers, "sim-users", cfg.SimUsers, "users of the embedded simulator's tenant")
	fs.IntVar(&cfg.SimGroups, "sim-groups", cfg.SimGroups, "groups of the embedded simulator's tenant")
	fs.Int64Var(&cfg.SimSeed, "sim-seed", cfg.SimSeed, "seed of the embedded simulator's tenant")
	fs.Float64Var(&cfg.TimeScale, "time-scale", cfg.TimeScale, "run the simulated clock `X` times faster; queue rates, debounce and resync periods follow it")
	fs.DurationVar(&cfg.Debounce, "debounce", cfg.Debounce, "wait before refreshing a group after a push notification")
	fs.DurationVar(&cfg.ResyncEvery, "resync-every", cfg.ResyncEvery, "period of the resync (groups.list compared with the cache); 0 disables it")
	fs.DurationVar(&cfg.MaxAge, "max-age", cfg.MaxAge, "oldest any group's members may get: the resync re-reads a rolling slice to keep it")
	fs.DurationVar(&cfg.HistoryRetention, "history-retention", cfg.HistoryRetention, "how long the history keeps events (9600h: 400 days); older ones are pruned when a sweep finishes")
	fs.StringVar(&cfg.Rules, "rules", cfg.Rules, "remediation rules `FILE`")
	fs.StringVar(&cfg.Remediation, "remediation", cfg.Remediation, "detect (record and notify) or remediate (patch)")
	fs.StringVar(&cfg.PubSub, "pubsub", cfg.PubSub, "publish the change feed to the Pub/Sub emulator at `HOST:PORT` (topic greep-changes, project greep-local)")
	fs.StringVar(&cfg.QueuesFile, "queues", cfg.QueuesFile, "queues.yaml `FILE` (looked for in the working directory and its parents)")
	fs.IntVar(&cfg.GCPercent, "gc-percent", cfg.GCPercent, "the garbage collector's GOGC while Greep runs: more memory, less CPU (0: Go's own; env GOGC overrides)")
	fs.Int64Var(&cfg.MemoryLimitMiB, "memory-limit-mib", cfg.MemoryLimitMiB, "soft limit of the process's memory in `MiB`: the collector works harder near it (0: none; env GOMEMLIMIT overrides)")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve Go's profiles (net/http/pprof) under /debug/pprof/, behind the read API's token")
	verbose := fs.Bool("v", false, "log at debug level")
	fs.BoolVar(&printConfig, "print-config", false, "write the embedded default queues.yaml and rules to stdout and exit")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("greep local: unexpected arguments %q", fs.Args())
	}
	cfg.DatastoreProject = os.Getenv("DATASTORE_PROJECT_ID")
	level := zapcore.InfoLevel
	if *verbose {
		level = zapcore.DebugLevel
	}
	cfg.Logger = logging.NewTo(logTo, true, level)
	return cfg, printConfig, cfg.Validate()
}

func runLocal(ctx context.Context, args []string, out io.Writer) error {
	// On a terminal the log and the progress line share one writer, so log lines print
	// above the progress line instead of into it.
	var logTo zapcore.WriteSyncer = zapcore.Lock(os.Stderr)
	if isTerminal(out) && isTerminal(os.Stderr) {
		term := local.NewTerminal(out)
		logTo, out = term, term
	}
	cfg, printConfig, err := localConfig(args, os.Stderr, logTo)
	if printConfig {
		return local.PrintConfig(out)
	}
	if err != nil {
		return err
	}
	defer cfg.Logger.Sync() //nolint:errcheck // stderr may not sync
	return local.Run(ctx, cfg, out)
}
