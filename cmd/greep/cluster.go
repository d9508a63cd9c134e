package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/greephq/greep/pkg/cluster"
	"github.com/greephq/greep/pkg/local"
)

// clusterConfig reads greep cluster's flags: greep local's where they apply.
func clusterConfig(args []string, stderr io.Writer) (cluster.Config, error) {
	d := local.Defaults()
	cfg := cluster.Config{Addr: d.Addr, SimUsers: d.SimUsers, SimGroups: d.SimGroups, SimSeed: d.SimSeed, Env: map[string]string{}}
	fs := flag.NewFlagSet("greep cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Root, "root", "", "the app's `DIR` (app.yaml, services/, dispatch.yaml, deploy/cron.yaml); default: the working directory or its nearest parent holding dispatch.yaml")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "`HOST:PORT` of the front, which routes by dispatch.yaml")
	fs.StringVar(&cfg.APIToken, "api-token", os.Getenv("GREEP_API_TOKEN"), "bearer `TOKEN` of the read API (random if empty; env GREEP_API_TOKEN)")
	fs.StringVar(&cfg.Workspace, "workspace", "", "a greep sim `URL`; empty for an embedded simulator")
	fs.StringVar(&cfg.AdminSubject, "admin-subject", "", "admin `EMAIL` the services act as (required with --workspace)")
	fs.IntVar(&cfg.SimUsers, "sim-users", cfg.SimUsers, "users of the embedded simulator's tenant")
	fs.IntVar(&cfg.SimGroups, "sim-groups", cfg.SimGroups, "groups of the embedded simulator's tenant")
	fs.Int64Var(&cfg.SimSeed, "sim-seed", cfg.SimSeed, "seed of the embedded simulator's tenant")
	fs.StringVar(&cfg.QueuesFile, "queues", "", "queues.yaml `FILE` for the Cloud Tasks queues and every service (default: the app's)")
	fs.StringVar(&cfg.Project, "project", "", "Datastore and Cloud Tasks `PROJECT` (default greep-cluster, or DATASTORE_PROJECT_ID with DATASTORE_EMULATOR_HOST)")
	fs.StringVar(&cfg.Location, "location", "", "Cloud Tasks `LOCATION` (default us-central1)")
	fs.StringVar(&cfg.Emulator, "emulator", cluster.EmulatorDatastore, "the Datastore emulator started without DATASTORE_EMULATOR_HOST: "+cluster.EmulatorDatastore+" (the legacy one, in memory) or "+cluster.EmulatorFirestore+" (the Firestore emulator in Datastore mode; slower under Greep's writes: docs/cluster.md)")
	fs.BoolVar(&cfg.DeliverTwice, "deliver-twice", false, "the Cloud Tasks emulator delivers every task twice")
	fs.StringVar(&cfg.WorkDir, "work-dir", "", "`DIR` for the services' logs and the Datastore emulator's data (kept); a temporary one when empty")
	envFlag := func(name, env, usage string) {
		fs.Func(name, usage+" (sets "+env+" for the services)", func(v string) error { cfg.Env[env] = v; return nil })
	}
	envFlag("debounce", "GREEP_DEBOUNCE", "wait `DUR` before refreshing a group after a push notification")
	envFlag("resync-every", "GREEP_RESYNC_EVERY", "the resync cron's period `DUR`, which sizes the rolling slice; cron.yaml schedules the resync")
	envFlag("max-age", "GREEP_MAX_AGE", "oldest `DUR` any group's members may get")
	envFlag("rules", "GREEP_RULES", "remediation rules `FILE`")
	envFlag("remediation", "GREEP_REMEDIATION", "detect or remediate, overriding the rules file")
	verbose := fs.Bool("v", false, "log the cluster's steps")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("greep cluster: unexpected arguments %q", fs.Args())
	}
	if cfg.Root == "" {
		root, err := findRoot()
		if err != nil {
			return cfg, err
		}
		cfg.Root = root
	}
	if cfg.APIToken == "" {
		cfg.APIToken = randomToken()
	}
	if h := os.Getenv("DATASTORE_EMULATOR_HOST"); h != "" {
		cfg.DatastoreHost = h
		if cfg.Project == "" {
			cfg.Project = os.Getenv("DATASTORE_PROJECT_ID")
		}
	}
	if *verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "greep cluster: "+format+"\n", args...) }
	}
	return cfg, nil
}

// findRoot is the working directory or its nearest parent with a dispatch.yaml.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "dispatch.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("greep cluster: no dispatch.yaml in the working directory or its parents: run it from the app, or give --root")
		}
		dir = parent
	}
}

func runCluster(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := clusterConfig(args, os.Stderr)
	if err != nil {
		return err
	}
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on %s\n", c.URL)
	fmt.Fprintf(out, "  read API token: %s   (curl -H 'Authorization: Bearer %s' %s/v1/status)\n", cfg.APIToken, cfg.APIToken, c.URL)
	fmt.Fprintf(out, "  Cloud Tasks emulator: %s   Datastore emulator: %s (project %s)\n", c.TasksAddr, c.DatastoreHost, c.Project)
	if c.Sim != nil {
		fmt.Fprintf(out, "  embedded simulator: %s (%d users, %d groups)\n", c.SimURL, cfg.SimUsers, cfg.SimGroups)
	}
	fmt.Fprintf(out, "  services' logs: %s\n", c.WorkDir())
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.ShowProgress(pctx, out, isTerminal(out))
	}()
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-c.Failed():
	}
	cancel()
	<-done
	fmt.Fprintln(out, "stopping every process of the cluster")
	stopped := make(chan error, 1)
	go func() { stopped <- c.Close() }()
	select {
	case err := <-stopped:
		return errors.Join(failed, err)
	case <-time.After(2 * time.Minute):
		return errors.Join(failed, errors.New("greep cluster: did not stop within 2 minutes"))
	}
}

// randomToken is a read API token for this run only.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// isTerminal reports whether out is a terminal, where progress is redrawn in place.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
