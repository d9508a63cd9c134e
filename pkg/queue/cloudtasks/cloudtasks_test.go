package cloudtasks_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	beta "cloud.google.com/go/cloudtasks/apiv2beta3/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queue/cloudtasks/cloudtaskstest"
	"github.com/greephq/greep/pkg/queueconfig"
)

// start serves a fake Cloud Tasks API on loopback and returns a real client of it.
func start(t *testing.T) (*cloudtaskstest.Server, *ctapi.Client) {
	t.Helper()
	s := cloudtaskstest.Start(t)
	client, err := cloudtasks.NewClient(context.Background(), s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return s, client
}

var loc = cloudtasks.Location{Project: "greep-test", Location: "us-central1"}

func config(t *testing.T) *queueconfig.Config {
	t.Helper()
	c, err := queueconfig.Load("../../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnqueueCreatesAppEngineTask(t *testing.T) {
	srv, client := start(t)
	cfg := config(t)
	if _, err := cloudtasks.Apply(context.Background(), client, loc, cfg, false); err != nil {
		t.Fatal(err)
	}
	e, err := cloudtasks.NewEnqueuer(client, loc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	task := queue.Task{Queue: "directory", Name: "abc123-group_example_com", Path: "/tasks/directory/refresh", Body: []byte(`{"group":"g@example.com"}`), ScheduleTime: at}
	if err := e.Enqueue(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	// The same name again: ALREADY_EXISTS, which means "already queued".
	if err := e.Enqueue(context.Background(), task); err != nil {
		t.Fatalf("duplicate named task: %v, want nil", err)
	}
	if err := e.Enqueue(context.Background(), queue.Task{Queue: "remediation", Path: "/tasks/remediation/evaluate"}); err != nil {
		t.Fatal(err)
	}

	if len(srv.Creates) != 3 {
		t.Fatalf("%d CreateTask requests, want 3", len(srv.Creates))
	}
	r := srv.Creates[0]
	if want := "projects/greep-test/locations/us-central1/queues/directory"; r.Parent != want {
		t.Errorf("parent %q, want %q", r.Parent, want)
	}
	if want := "projects/greep-test/locations/us-central1/queues/directory/tasks/abc123-group_example_com"; r.Task.Name != want {
		t.Errorf("task name %q, want %q", r.Task.Name, want)
	}
	if !r.Task.ScheduleTime.AsTime().Equal(at) {
		t.Errorf("schedule time %v, want %v", r.Task.ScheduleTime.AsTime(), at)
	}
	ae := r.Task.GetAppEngineHttpRequest()
	if ae.GetAppEngineRouting().GetService() != "directory" || ae.RelativeUri != "/tasks/directory/refresh" ||
		ae.HttpMethod != cloudtaskspb.HttpMethod_POST || string(ae.Body) != `{"group":"g@example.com"}` ||
		ae.Headers["Content-Type"] != "application/json" {
		t.Errorf("app engine request %v", ae)
	}
	un := srv.Creates[2].Task
	if un.Name != "" || un.ScheduleTime != nil || un.GetAppEngineHttpRequest().GetAppEngineRouting().GetService() != "remediation" {
		t.Errorf("unnamed immediate task %v", un)
	}
}

func TestEnqueueErrors(t *testing.T) {
	srv, client := start(t)
	e, err := cloudtasks.NewEnqueuer(client, loc, config(t))
	if err != nil {
		t.Fatal(err)
	}
	// The queue was never created: a real error, not "already queued".
	err = e.Enqueue(context.Background(), queue.Task{Queue: "directory", Name: "x", Path: "/tasks/directory/refresh"})
	if err == nil || status.Code(err) != codes.NotFound {
		t.Errorf("missing queue: %v", err)
	}
	for name, task := range map[string]queue.Task{
		"unknown queue": {Queue: "nope", Path: "/tasks/directory/refresh"},
		"wrong service": {Queue: "directory", Path: "/tasks/groupssettings/get"},
		"bad name":      {Queue: "directory", Name: "a b", Path: "/tasks/directory/refresh"},
	} {
		if err := e.Enqueue(context.Background(), task); greep.ErrorCode(err) != greep.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if len(srv.Creates) != 1 {
		t.Errorf("invalid tasks reached the server: %d requests", len(srv.Creates))
	}
	if _, err := cloudtasks.NewEnqueuer(client, cloudtasks.Location{Project: "Bad Project", Location: "us-central1"}, config(t)); err == nil {
		t.Error("bad project accepted")
	}
}

func TestApplyCreatesThenUpdatesOnlyWhatChanged(t *testing.T) {
	srv, client := start(t)
	cfg := config(t)
	ctx := context.Background()

	// Dry run on an empty project: every queue would be created, nothing is.
	res, err := cloudtasks.Apply(ctx, client, loc, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(cfg.Lanes) || !res[0].Created || len(srv.QueueCreates) != 0 {
		t.Fatalf("dry run: %+v, %d creates", res, len(srv.QueueCreates))
	}

	if _, err := cloudtasks.Apply(ctx, client, loc, cfg, false); err != nil {
		t.Fatal(err)
	}
	if len(srv.QueueCreates) != len(cfg.Lanes) {
		t.Fatalf("%d queues created, want %d", len(srv.QueueCreates), len(cfg.Lanes))
	}
	var sweep *cloudtaskspb.CreateQueueRequest
	for _, r := range srv.QueueCreates {
		if strings.HasSuffix(r.Queue.Name, "/queues/directory-sweep") {
			sweep = r
		}
	}
	if sweep == nil || sweep.Parent != "projects/greep-test/locations/us-central1" {
		t.Fatalf("no directory-sweep queue created under the location: %v", srv.QueueCreates)
	}
	q := sweep.Queue
	// 2400/min * 0.9 / 60 * 0.65 = 23.4/s, from queues.yaml.
	if q.RateLimits.MaxDispatchesPerSecond < 23.39 || q.RateLimits.MaxDispatchesPerSecond > 23.41 ||
		q.RateLimits.MaxConcurrentDispatches != 40 ||
		q.RetryConfig.MaxAttempts != 50 || q.RetryConfig.MinBackoff.AsDuration() != 5*time.Second ||
		q.RetryConfig.MaxBackoff.AsDuration() != 10*time.Minute || q.RetryConfig.MaxDoublings != 4 ||
		q.AppEngineRoutingOverride.GetService() != "directory" {
		t.Errorf("directory-sweep queue %v", q)
	}

	// Applying again changes nothing.
	res, err = cloudtasks.Apply(ctx, client, loc, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Created || len(r.Changes) > 0 {
			t.Errorf("second apply changed %s: %+v", r.Queue, r)
		}
	}
	if len(srv.Updates) != 0 {
		t.Errorf("%d updates on an unchanged config", len(srv.Updates))
	}

	// Ops add a second admin subject to the directory API: the rates of the queues of its
	// window double, the reports queue's included (it shares the window).
	cfg2, err := queueconfig.Parse("queues.yaml", []byte(strings.Replace(mustRead(t), "subjects: 1      #", "subjects: 2      #", 1)))
	if err != nil {
		t.Fatal(err)
	}
	res, err = cloudtasks.Apply(ctx, client, loc, cfg2, false)
	if err != nil {
		t.Fatal(err)
	}
	changed := map[string][]cloudtasks.Change{}
	for _, r := range res {
		if len(r.Changes) > 0 {
			changed[r.Queue] = r.Changes
		}
	}
	if len(changed) != 3 || len(changed["directory"]) != 1 || len(changed["directory-sweep"]) != 1 || len(changed["reports"]) != 1 {
		t.Fatalf("changes %+v, want the rate of the two directory queues and the reports queue", changed)
	}
	if c := changed["directory-sweep"][0]; c.Field != "rate_limits.max_dispatches_per_second" || c.From != "23.4/s" || c.To != "46.8/s" {
		t.Errorf("change %+v", c)
	}
	if len(srv.Updates) != 3 || srv.Updates[0].UpdateMask.Paths[0] != "rate_limits.max_dispatches_per_second" || len(srv.Updates[0].UpdateMask.Paths) != 1 {
		t.Errorf("updates %v", srv.Updates)
	}
	if got := srv.Queue(loc.QueuePath("directory-sweep")).RateLimits.MaxDispatchesPerSecond; got < 46.79 || got > 46.81 {
		t.Errorf("rate after apply %v", got)
	}
}

func TestApplyReportsPausedQueue(t *testing.T) {
	srv, client := start(t)
	cfg := config(t)
	if _, err := cloudtasks.Apply(context.Background(), client, loc, cfg, false); err != nil {
		t.Fatal(err)
	}
	srv.Queue(loc.QueuePath("reports")).State = cloudtaskspb.Queue_PAUSED
	res, err := cloudtasks.Apply(context.Background(), client, loc, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if (r.Queue == "reports") != (r.State == "PAUSED") {
			t.Errorf("%s state %q", r.Queue, r.State)
		}
	}
}

func mustRead(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestQueueStats: the queues' figures come from Cloud Tasks' stats (GetQueue with a read
// mask naming them), and a queue not created yet is left out.
func TestQueueStats(t *testing.T) {
	ctx := context.Background()
	ct := cloudtaskstest.Start(t)
	loc := cloudtasks.Location{Project: "greep-test", Location: "us-central1"}
	cfg := config(t)
	admin, err := cloudtasks.NewClient(ctx, ct.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := cloudtasks.Apply(ctx, admin, loc, cfg, false); err != nil {
		t.Fatal(err)
	}
	name := cfg.LaneNames()[0]
	ct.SetStats(loc.QueuePath(name), &beta.QueueStats{TasksCount: 3, ExecutedLastMinuteCount: 60, EffectiveExecutionRate: 1.5})
	qs, err := cloudtasks.NewQueueStats(ctx, ct.Addr, loc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()
	got, err := qs.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := got[name]; s.Backlog != 3 || s.ExecutedLastMinute != 60 || s.RatePerSecond != 1.5 || !s.Oldest.IsZero() {
		t.Errorf("%s: %+v", name, s)
	}
	if len(got) != len(cfg.LaneNames()) {
		t.Errorf("stats of %d queues, want %d", len(got), len(cfg.LaneNames()))
	}
	other, err := cloudtasks.NewQueueStats(ctx, ct.Addr, cloudtasks.Location{Project: "greep-test", Location: "europe-west1"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.Stats(ctx); err != nil || len(got) != 0 {
		t.Errorf("a location without queues: %v, %v; want none", got, err)
	}
}
