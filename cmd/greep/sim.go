package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/workspacesim"
)

// runSim serves the Workspace simulator alone until ctx is done (Ctrl-C).
func runSim(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("greep sim", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:8081", "`HOST:PORT` to listen on (port 0 picks a free one)")
	users := fs.Int("users", 200, "users in the synthetic tenant")
	groups := fs.Int("groups", 500, "groups in the synthetic tenant")
	seed := fs.Int64("seed", 1, "seed of the synthetic tenant and of injected faults")
	domain := fs.String("domain", "example.com", "the tenant's primary domain")
	perMinute := fs.Int64("quota-per-minute", workspacesim.DefaultQuotaPerMinute, "per-user short-window quota of each API (negative: unlimited)")
	perDay := fs.Int64("quota-per-day", 0, "daily quota of each API (0: unlimited)")
	readLag := fs.Duration("read-lag", 0, "how far reads lag writes, in simulated time")
	timeScale := fs.Float64("time-scale", 1, "how many times faster than the wall clock simulated time runs")
	dropRate := fs.Float64("drop-rate", 0, "fraction of push notifications lost on purpose")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("greep sim: unexpected arguments %q", fs.Args())
	}
	if *perMinute == 0 {
		return errors.New("greep sim: --quota-per-minute 0 would refuse every call; use a negative value for unlimited")
	}
	var daily map[string]int64
	if *perDay > 0 {
		daily = map[string]int64{
			workspacesim.APIDirectory:      *perDay,
			workspacesim.APIGroupsSettings: *perDay,
			workspacesim.APIReports:        *perDay,
		}
	} else if *perDay < 0 {
		return errors.New("greep sim: --quota-per-day must not be negative")
	}

	began := time.Now()
	sim, err := workspacesim.New(workspacesim.Config{
		Domain: *domain, Users: *users, Groups: *groups, Seed: *seed,
		QuotaPerMinute: *perMinute, QuotaPerDay: daily,
		ReadLag: *readLag, TimeScale: *timeScale, DropRate: *dropRate,
	})
	if err != nil {
		return fmt.Errorf("greep sim: %w", err)
	}
	defer sim.Close()
	fmt.Fprintf(out, "generated %d users and %d groups of %s in %s; admin subject %s, sentinel %s\n",
		*users, *groups, sim.Domain(), time.Since(began).Round(time.Millisecond), sim.Admin(), sim.Sentinel())

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("greep sim: %w", err)
	}
	srv := service.HTTPServer(sim, service.Timeouts{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("greep sim: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("greep sim: stopping: %w", err)
	}
	return nil
}
