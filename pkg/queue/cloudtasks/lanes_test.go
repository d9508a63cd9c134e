package cloudtasks_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cloudtasksemu"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
)

// emuClock is the emulator's clock, moved by the test: the last minute's executions
// (what keeps a push queue counted as busy) follow it.
type emuClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *emuClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *emuClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lanesRig is the project's Cloud Tasks emulator with the shipped queues applied, a
// service answering every task 204, and the controller on the real client.
type lanesRig struct {
	clock  *emuClock
	client *ctapi.Client
	stats  *cloudtasks.QueueStats
	enq    *cloudtasks.Enqueuer
	lanes  *cloudtasks.Lanes
}

func startLanes(t *testing.T) *lanesRig {
	t.Helper()
	ctx := context.Background()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(svc.Close)
	clock := &emuClock{now: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	emu := cloudtasksemu.New(cloudtasksemu.Config{
		Target: func(string) (string, bool) { return svc.URL, true },
		Now:    clock.Now,
	})
	addr, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	client, err := cloudtasks.NewClient(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	cfg := config(t)
	if _, err := cloudtasks.Apply(ctx, client, loc, cfg, false); err != nil {
		t.Fatal(err)
	}
	stats, err := cloudtasks.NewQueueStats(ctx, addr, loc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stats.Close() })
	enq, err := cloudtasks.NewEnqueuer(client, loc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lanes, err := cloudtasks.NewLanes(client, stats.Stats, loc, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &lanesRig{clock: clock, client: client, stats: stats, enq: enq, lanes: lanes}
}

func (r *lanesRig) rate(t *testing.T, lane string) float64 {
	t.Helper()
	q, err := r.client.GetQueue(context.Background(), &cloudtaskspb.GetQueueRequest{Name: loc.QueuePath(lane)})
	if err != nil {
		t.Fatal(err)
	}
	return q.GetRateLimits().GetMaxDispatchesPerSecond()
}

func (r *lanesRig) wantRates(t *testing.T, when string, want map[string]float64) {
	t.Helper()
	for lane, w := range want {
		if got := r.rate(t, lane); math.Abs(got-w) > 1e-6 {
			t.Errorf("%s: %s rate %.4g/s, want %.4g/s", when, lane, got, w)
		}
	}
}

func TestLanesLendIdlePushRateToSweeps(t *testing.T) {
	ctx := context.Background()
	r := startLanes(t)
	r.wantRates(t, "as applied", map[string]float64{"directory-sweep": 23.4, "groupssettings-sweep": 25.2})

	// Nothing queued anywhere: each sweep gets its whole window (2,400 a minute less 10%).
	changes, err := r.lanes.Adjust(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.wantRates(t, "all idle", map[string]float64{"directory-sweep": 36, "groupssettings-sweep": 36})
	if len(changes) != 2 {
		t.Errorf("changes %+v, want both sweeps", changes)
	}
	// A lent rate is no drift for greep queues apply.
	res, err := cloudtasks.Apply(ctx, r.client, loc, config(t), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range res {
		if len(q.Changes) > 0 {
			t.Errorf("apply would change %s: %+v", q.Queue, q.Changes)
		}
	}
	// Nothing changed: nothing written.
	if changes, err := r.lanes.Adjust(ctx); err != nil || len(changes) != 0 {
		t.Errorf("a second adjust: %+v, %v; want no change", changes, err)
	}

	// A debounced refresh, due in two minutes: the push queue is busy from now, so the
	// directory sweep goes back to its share plus the idle reports queue's 1.8/s before
	// the refresh falls due.
	refresh := queue.Task{Queue: "directory", Name: "refresh-g1", Path: "/tasks/directory/refresh", Body: []byte(`{}`), ScheduleTime: r.clock.Now().Add(2 * time.Minute)}
	if err := r.enq.Enqueue(ctx, refresh); err != nil {
		t.Fatal(err)
	}
	if _, err := r.lanes.Adjust(ctx); err != nil {
		t.Fatal(err)
	}
	r.wantRates(t, "a refresh scheduled", map[string]float64{"directory-sweep": 25.2, "groupssettings-sweep": 36})

	// A settings read run at once: executed within the last minute, the push queue counts
	// as busy though empty; a minute later it lends again.
	if err := r.enq.Enqueue(ctx, queue.Task{Queue: "groupssettings", Path: "/tasks/groupssettings/read", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	waitRun(t, r, "groupssettings")
	if _, err := r.lanes.Adjust(ctx); err != nil {
		t.Fatal(err)
	}
	r.wantRates(t, "a settings read just ran", map[string]float64{"groupssettings-sweep": 25.2})
	r.clock.Advance(61 * time.Second)
	if _, err := r.lanes.Adjust(ctx); err != nil {
		t.Fatal(err)
	}
	r.wantRates(t, "a minute later", map[string]float64{"groupssettings-sweep": 36})
}

// waitRun waits until lane's queue has run a task and holds none.
func waitRun(t *testing.T, r *lanesRig, lane string) {
	t.Helper()
	wait.Until(t, time.Minute, func() error {
		st, err := r.stats.Stats(context.Background())
		if err != nil {
			return err
		}
		if s := st[lane]; s.Backlog != 0 || s.ExecutedLastMinute == 0 {
			return fmt.Errorf("%s's task has not run: %+v", lane, s)
		}
		return nil
	})
}

func TestLanesWithoutStatsFallBackToShares(t *testing.T) {
	ctx := context.Background()
	r := startLanes(t)
	if _, err := r.lanes.Adjust(ctx); err != nil {
		t.Fatal(err)
	}
	r.wantRates(t, "all idle", map[string]float64{"directory-sweep": 36})
	broken, err := cloudtasks.NewLanes(r.client, func(context.Context) (map[string]greep.QueueStat, error) {
		return nil, errors.New("stats unavailable")
	}, loc, config(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.Adjust(ctx); err == nil {
		t.Error("Adjust without stats reported no error")
	}
	r.wantRates(t, "stats unreadable", map[string]float64{"directory-sweep": 23.4, "groupssettings-sweep": 25.2})
}

func TestLanesCronHandler(t *testing.T) {
	r := startLanes(t)
	h := queue.OnlyCron(true, false)(r.lanes)
	for _, tc := range []struct {
		cron bool
		want int
	}{{false, http.StatusForbidden}, {true, http.StatusNoContent}} {
		req := httptest.NewRequest(http.MethodGet, "/cron/lanes", nil)
		if tc.cron {
			req.Header.Set(queue.HeaderCron, "true")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("cron %v: %d %s, want %d", tc.cron, w.Code, w.Body, tc.want)
		}
	}
	r.wantRates(t, "after the cron run", map[string]float64{"directory-sweep": 36})
}
