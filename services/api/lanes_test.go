package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"go.uber.org/zap"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cloudtasksemu"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
)

// TestLanesCron: with a Cloud Tasks location the default service serves /cron/lanes to
// App Engine cron only, and a run lends the idle push queues' rate to the sweep queues.
func TestLanesCron(t *testing.T) {
	t.Setenv("GREEP_TRUST_TASK_HEADERS", "true")
	ctx := context.Background()
	emu := cloudtasksemu.New(cloudtasksemu.Config{})
	tasksAddr, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	client, err := cloudtasks.NewClient(ctx, tasksAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	qcfg, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loc := cloudtasks.Location{Project: "greep-test", Location: "us-central1"}
	if _, err := cloudtasks.Apply(ctx, client, loc, qcfg, false); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	cfg, err := parseConfig([]string{"--addr", addr, "--store", "embedded", "--data", filepath.Join(t.TempDir(), "g.db"), "--api-token", "tok",
		"--queues", "../../queues.yaml", "--project", loc.Project, "--location", loc.Location, "--tasks-endpoint", tasksAddr})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, cfg, zap.NewNop()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	get := func(cron bool) (code int) {
		wait.Until(t, time.Minute, func() error {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/cron/lanes", addr), nil)
			if cron {
				req.Header.Set(queue.HeaderCron, "true")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			code = resp.StatusCode
			return nil
		})
		return code
	}
	if code := get(false); code != http.StatusForbidden {
		t.Errorf("/cron/lanes without the cron header: %d, want 403", code)
	}
	if code := get(true); code != http.StatusNoContent {
		t.Errorf("/cron/lanes from cron: %d, want 204", code)
	}
	q, err := client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: loc.QueuePath("directory-sweep")})
	if err != nil {
		t.Fatal(err)
	}
	if r := q.GetRateLimits().GetMaxDispatchesPerSecond(); r != 36 {
		t.Errorf("directory-sweep at %v/s after the cron run with every queue idle, want the window's 36/s", r)
	}
}
