package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	beta "cloud.google.com/go/cloudtasks/apiv2beta3/cloudtaskspb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/greephq/greep/internal/freeport"
	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queue/cloudtasks/cloudtaskstest"
	"github.com/greephq/greep/pkg/queueconfig"
)

// TestStatusShowsCloudTasksQueuesAndQuota (issue 13 point 6): the production read API's
// /v1/status shows each queue from Cloud Tasks' queue stats and each API's quota from the
// guard, as greep local's does from its dispatcher.
func TestStatusShowsCloudTasksQueuesAndQuota(t *testing.T) {
	ctx := context.Background()
	ct := cloudtaskstest.Start(t)
	loc := cloudtasks.Location{Project: "greep-test", Location: "us-central1"}
	qcfg, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := cloudtasks.NewClient(ctx, ct.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := cloudtasks.Apply(ctx, admin, loc, qcfg, false); err != nil {
		t.Fatal(err)
	}
	oldest := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	ct.SetStats(loc.QueuePath("directory-sweep"), &beta.QueueStats{TasksCount: 7, ExecutedLastMinuteCount: 1200,
		EffectiveExecutionRate: 20, OldestEstimatedArrivalTime: timestamppb.New(oldest)})

	addr := freeAddr(t)
	cfg, err := parseConfig([]string{"--addr", addr, "--store", "embedded", "--data", filepath.Join(t.TempDir(), "g.db"),
		"--api-token", "tok", "--queues", "../../queues.yaml", "--project", loc.Project, "--location", loc.Location, "--tasks-endpoint", ct.Addr})
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

	var st struct {
		Queues map[string]greep.QueueStat  `json:"queues"`
		Quota  map[string]greep.QuotaUsage `json:"quota"`
		Errors []string                    `json:"errors"`
	}
	var res *http.Response
	wait.Until(t, 30*time.Second, func() error { // the server may still be starting
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v1/status", addr), nil)
		req.Header.Set("Authorization", "Bearer tok")
		var err error
		res, err = http.DefaultClient.Do(req)
		return err
	})
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/v1/status: %s, %v", res.Status, err)
	}
	if len(st.Errors) > 0 {
		t.Fatalf("status errors: %v", st.Errors)
	}
	if len(st.Queues) != len(qcfg.LaneNames()) {
		t.Errorf("queues %v: want every queue of queues.yaml", st.Queues)
	}
	q := st.Queues["directory-sweep"]
	if q.Backlog != 7 || q.ExecutedLastMinute != 1200 || q.RatePerSecond != 20 || !q.Oldest.Equal(oldest) {
		t.Errorf("directory-sweep %+v: want Cloud Tasks' stats", q)
	}
	if u, ok := st.Quota["directory"]; !ok || u.DailyLimit != qcfg.APIs["directory"].PerDay || u.ResetAt.IsZero() {
		t.Errorf("quota %+v: want the guard's figures", st.Quota)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
