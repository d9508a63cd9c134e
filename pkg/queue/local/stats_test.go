package local_test

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
)

// The oldest waiting task's age is what tells a stuck queue from a busy one.
func TestStatsNameTheOldestWaitingTask(t *testing.T) {
	clk := local.NewFakeClock(t0)
	d := open(t, memory.New(), clk, nil)
	if s := d.Stats()["work"]; !s.Oldest.IsZero() {
		t.Fatalf("an empty queue reports its oldest task enqueued at %s", s.Oldest)
	}
	enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/a", ScheduleTime: t0.Add(time.Hour)})
	clk.Advance(time.Minute)
	enqueue(t, d, queue.Task{Queue: "work", Path: "/tasks/remediation/b"})
	s := d.Stats()["work"]
	if !s.Oldest.Equal(t0) || s.Backlog != 2 {
		t.Errorf("stats %+v: want the oldest enqueued at %s and a backlog of 2", s, t0)
	}
}
