// Command greep is Greep's one CLI: run everything locally, run the Workspace simulator,
// run the benchmarks, and plan or apply the Cloud Tasks queues.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// A command runs one subcommand with its arguments; output meant for the user goes to out.
type command struct {
	run     func(ctx context.Context, args []string, out io.Writer) error
	summary string
}

var commands = map[string]command{
	"local":   {runLocal, "run every Greep service in one process (embedded store, simulator, dispatcher)"},
	"cluster": {runCluster, "run the production topology on one machine (a process per service, dispatch.yaml, Datastore and Cloud Tasks emulators)"},
	"sim":     {runSim, "run the Google Workspace simulator alone"},
	"bench":   {runBench, "run the benchmark scenarios against the simulator"},
	"queues":  {runQueues, "plan or apply the queue rates derived from queues.yaml"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "greep:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(out)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(os.Stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.run(ctx, args[1:], out)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: greep <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'greep <command> -h' for a command's flags.")
}
