package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/cloudtasksemu"
	"github.com/greephq/greep/pkg/queue/cloudtasks/cloudtaskstest"
)

func TestQueuesPlanShippedFile(t *testing.T) {
	var out bytes.Buffer
	if err := runQueues(context.Background(), []string{"plan", "--file", "../../queues.yaml", "--groups", "45000"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"directory-sweep       directory       0.65   23.40", // 2400/min * 0.9 / 60 * 0.65
		"2500000/day", // the sweep stops at half of 5,000,000
		"60000/day",   // the settings sweep at 60% of 100,000
		"32m3s",       // 45,000 groups at 23.4/s
		"midnight to midnight America/Los_Angeles",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "warning") {
		t.Errorf("the shipped file draws warnings:\n%s", out.String())
	}
}

func TestQueuesPlanRefusesBadFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "q.yaml")
	if err := os.WriteFile(f, []byte("apis:\n  directory:\n    perday: 5\nqueues:\n  x: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := runQueues(context.Background(), []string{"plan", "--file", f}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "q.yaml:3: unknown key \"perday\"") {
		t.Errorf("got %v", err)
	}
}

func TestQueuesApplyThroughCloudTasksClient(t *testing.T) {
	srv := cloudtaskstest.Start(t)
	args := []string{"apply", "--file", "../../queues.yaml", "--project", "greep-test", "--location", "us-central1", "--endpoint", srv.Addr}

	var out bytes.Buffer
	if err := runQueues(context.Background(), append(args, "--dry-run"), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "directory-sweep: would create") || len(srv.QueueCreates) != 0 {
		t.Fatalf("dry run:\n%s", out.String())
	}

	out.Reset()
	if err := runQueues(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	if len(srv.QueueCreates) != 6 || !strings.Contains(out.String(), "rate_limits.max_dispatches_per_second = 23.4/s") {
		t.Fatalf("apply created %d queues:\n%s", len(srv.QueueCreates), out.String())
	}

	out.Reset()
	if err := runQueues(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0 of 6 queues changed") || len(srv.Updates) != 0 {
		t.Errorf("second apply:\n%s", out.String())
	}
}

func TestQueuesApplyNeedsProject(t *testing.T) {
	for _, args := range [][]string{
		{"apply", "--location", "us-central1"},
		{"apply", "--project", "Not A Project", "--location", "us-central1"},
		{"nope"},
		{},
	} {
		if err := runQueues(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// docs/operations.md quotes the plan of the shipped file; a change of queues.yaml that
// leaves the quote stale fails here.
func TestOperationsDocQuotesThePlan(t *testing.T) {
	var out bytes.Buffer
	if err := runQueues(context.Background(), []string{"plan", "--file", "../../queues.yaml"}, &out); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), out.String()) {
		t.Errorf("docs/operations.md does not quote the current plan:\n%s", out.String())
	}
}

// greep queues apply against the project's emulator, found through GREEP_TASKS_ENDPOINT
// as greep cluster's services find it, creates queues that then dispatch.
func TestQueuesApplyAgainstTheEmulator(t *testing.T) {
	emu := cloudtasksemu.New(cloudtasksemu.Config{})
	addr, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	t.Setenv("GREEP_TASKS_ENDPOINT", addr)
	args := []string{"apply", "--file", "../../queues.yaml", "--project", "greep-test", "--location", "us-central1"}
	var out bytes.Buffer
	if err := runQueues(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	st := emu.Stats()
	if len(st) != 6 || st["directory-sweep"].RatePerSecond < 23.3 || st["directory-sweep"].RatePerSecond > 23.5 {
		t.Fatalf("queues after apply: %+v\n%s", st, out.String())
	}
	out.Reset()
	if err := runQueues(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0 of 6 queues changed") {
		t.Errorf("second apply against the emulator changed something:\n%s", out.String())
	}
}
