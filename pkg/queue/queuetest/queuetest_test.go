package queuetest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
)

func TestNamedTasksAsCloudTasks(t *testing.T) {
	ctx := context.Background()
	var q queuetest.Queue
	for _, task := range []queue.Task{
		{Queue: "a", Name: "n", Path: "/x"},
		{Queue: "a", Name: "n", Path: "/x"}, // queued: refused quietly
		{Queue: "b", Name: "n", Path: "/x"}, // another queue's name is another task
		{Queue: "a", Path: "/y"},            // unnamed tasks never collide
		{Queue: "a", Path: "/y"},
	} {
		if err := q.Enqueue(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(q.Accepted()); n != 4 {
		t.Errorf("accepted %d tasks, want 4", n)
	}
	if got := q.Take(queuetest.Path("/x")); len(got) != 2 {
		t.Errorf("took %d tasks of /x, want 2", len(got))
	}
	// Taken (ran) is not forgotten: the name stays taken, as in Cloud Tasks' window.
	if err := q.Enqueue(ctx, queue.Task{Queue: "a", Name: "n", Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	if n := len(q.Pending()); n != 2 {
		t.Errorf("%d tasks pending, want the two of /y", n)
	}
	if n := len(q.Accepted(queuetest.Path("/x"))); n != 2 {
		t.Errorf("accepted %d tasks of /x, want 2", n)
	}
}

func TestTakeAndNextHonourMatches(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var q queuetest.Queue
	for _, task := range []queue.Task{
		{Queue: "a", Path: "/later", ScheduleTime: now.Add(time.Minute)},
		{Queue: "a", Path: "/now", ScheduleTime: now},
		{Queue: "a", Path: "/unscheduled"},
	} {
		if err := q.Enqueue(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	if task, ok := q.Next(queuetest.DueBy(now)); !ok || task.Path != "/now" {
		t.Errorf("Next due = %+v %v, want /now", task, ok)
	}
	if got := q.Take(queuetest.DueBy(now)); len(got) != 1 || got[0].Path != "/unscheduled" {
		t.Errorf("Take due = %+v, want /unscheduled", got)
	}
	if _, ok := q.Next(queuetest.DueBy(now)); ok {
		t.Error("a task due later was taken")
	}
	if got := q.Take(); len(got) != 1 || got[0].Path != "/later" {
		t.Errorf("Take all = %+v, want /later", got)
	}
}

func TestInterceptor(t *testing.T) {
	ctx := context.Background()
	var q queuetest.Queue
	down := errors.New("queue unavailable")
	q.Intercept(queuetest.Failing(down))
	if err := q.Enqueue(ctx, queue.Task{Queue: "a", Name: "n", Path: "/x"}); !errors.Is(err, down) {
		t.Fatalf("Enqueue = %v, want the interceptor's error", err)
	}
	var seen []string
	q.Intercept(func(ctx context.Context, task queue.Task, next queue.Enqueuer) error {
		seen = append(seen, task.Name)
		return next.Enqueue(ctx, task)
	})
	// The failed call took no name.
	if err := q.Enqueue(ctx, queue.Task{Queue: "a", Name: "n", Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	q.Intercept(nil)
	if err := q.Enqueue(ctx, queue.Task{Queue: "a", Name: "m", Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || len(q.Accepted()) != 2 {
		t.Errorf("interceptor saw %v, queue accepted %d; want [n] and 2", seen, len(q.Accepted()))
	}
}

func TestDeliverMarksATaskRun(t *testing.T) {
	h := queue.OnlyTasks(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := queue.InfoFrom(r.Context())
		if info.Queue != "a" || info.Name != "n" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	if rec := queuetest.Deliver(h, queue.Task{Queue: "a", Name: "n", Path: "/x"}); rec.Code != http.StatusOK {
		t.Errorf("Deliver: %d %s", rec.Code, rec.Body)
	}
}
