package quota_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
)

const cfgYAML = `apis:
  directory:
    shortWindow: {limit: 2400, per: 1m}
    perDay: 100
queues:
  push:
    api: directory
    share: 0.3
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
  sweep:
    api: directory
    share: 0.7
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
    background: true
    dailyBudget: 0.6
  remediation:
    ratePerSecond: 10
    service: remediation
    pathPrefix: /tasks/remediation/
    concurrency: 5
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
`

// counters is an in-memory Counter, linearizable like the stores' counters.
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counters) AddCount(_ context.Context, name string, d int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[name] += d
	return c.m[name], nil
}

func (c *counters) Count(_ context.Context, name string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name], nil
}

type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }
func (c *clock) now() time.Time   { return *c.t.Load() }

func setup(t *testing.T, start time.Time) (*quota.Guard, *clock, *counters) {
	t.Helper()
	cfg, err := queueconfig.Parse("q.yaml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock(start)
	cs := &counters{}
	return quota.New(cs, cfg, quota.WithClock(clk.now)), clk, cs
}

func TestBackgroundStopsPushContinuesLimitHolds(t *testing.T) {
	ctx := context.Background()
	la, _ := time.LoadLocation("America/Los_Angeles")
	g, clk, _ := setup(t, time.Date(2026, 3, 10, 15, 0, 0, 0, la))

	var sweepOK int
	var refused error
	for range 100 {
		err := g.Reserve(ctx, "directory", "sweep")
		if err != nil {
			refused = err
			break
		}
		sweepOK++
	}
	if sweepOK != 60 {
		t.Fatalf("background lane made %d calls, want 60 (0.6 of 100)", sweepOK)
	}
	reset, ok := quota.ResetAfter(refused)
	if !ok || !errors.Is(refused, quota.ErrExhausted) {
		t.Fatalf("refusal %v does not carry a reset time", refused)
	}
	if want := time.Date(2026, 3, 11, 0, 0, 0, 0, la); !reset.Equal(want) {
		t.Errorf("reset %s, want %s", reset, want)
	}

	var pushOK int
	for range 100 {
		if err := g.Reserve(ctx, "directory", "push"); err != nil {
			if !errors.Is(err, quota.ErrExhausted) {
				t.Fatal(err)
			}
			break
		}
		pushOK++
	}
	if pushOK != 40 {
		t.Errorf("push lane made %d calls after the sweep stopped, want the remaining 40", pushOK)
	}
	u, err := g.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := u["directory"]; got.UsedToday != 100 || got.DailyLimit != 100 || !got.ResetAt.Equal(reset) {
		t.Errorf("usage %+v", got)
	}

	// The next quota day starts at midnight Pacific, not UTC.
	clk.set(reset.Add(-time.Second))
	if err := g.Reserve(ctx, "directory", "sweep"); err == nil {
		t.Error("sweep allowed a second before the reset")
	}
	clk.set(reset)
	if err := g.Reserve(ctx, "directory", "sweep"); err != nil {
		t.Errorf("sweep refused after the reset: %v", err)
	}
	if u, _ := g.Usage(ctx); u["directory"].UsedToday != 1 {
		t.Errorf("new day's count %d, want 1", u["directory"].UsedToday)
	}
}

func TestLimitNeverCrossedConcurrently(t *testing.T) {
	ctx := context.Background()
	g, _, cs := setup(t, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lane := "push"
			if i%2 == 0 {
				lane = "sweep"
			}
			for range 50 {
				if g.Reserve(ctx, "directory", lane) == nil {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Errorf("%d calls allowed, want exactly the limit 100", ok.Load())
	}
	for name, n := range cs.m {
		if n != 100 {
			t.Errorf("counter %s = %d, want 100 (refusals must not stay counted)", name, n)
		}
	}
}

func TestQuotaDayAcrossDaylightSaving(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	g, _, _ := setup(t, time.Now())
	// 2026-03-08 is 23 hours long in Los Angeles.
	day, reset := g.Day(time.Date(2026, 3, 8, 1, 0, 0, 0, la))
	if day != "2026-03-08" || !reset.Equal(time.Date(2026, 3, 9, 0, 0, 0, 0, la)) {
		t.Errorf("day %s reset %s", day, reset)
	}
	// 08:30 UTC is still the previous day in Pacific time.
	day, _ = g.Day(time.Date(2026, 6, 1, 6, 30, 0, 0, time.UTC))
	if day != "2026-05-31" {
		t.Errorf("day %s, want 2026-05-31", day)
	}
}

func TestZoneOption(t *testing.T) {
	cfg, err := queueconfig.Parse("q.yaml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	g := quota.New(&counters{}, cfg, quota.WithZone(time.UTC))
	day, reset := g.Day(time.Date(2026, 6, 1, 6, 30, 0, 0, time.UTC))
	if day != "2026-06-01" || !reset.Equal(time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("day %s reset %s", day, reset)
	}
}

func TestRefusesUnknownAndMismatched(t *testing.T) {
	ctx := context.Background()
	g, _, _ := setup(t, time.Now())
	for _, tc := range []struct{ api, lane string }{
		{"reports", ""},              // no quota declared
		{"directory", "nope"},        // no such lane
		{"directory", "remediation"}, // lane that paces no API
	} {
		err := g.Reserve(ctx, tc.api, tc.lane)
		if err == nil || errors.Is(err, quota.ErrExhausted) {
			t.Errorf("Reserve(%s, %s) = %v, want a configuration error", tc.api, tc.lane, err)
		}
	}
	// Outside any task the call counts as push work.
	if err := g.Reserve(ctx, "directory", ""); err != nil {
		t.Error(err)
	}
}

type failing struct{ counters }

func (*failing) AddCount(context.Context, string, int64) (int64, error) {
	return 0, errors.New("datastore unavailable")
}

func TestStoreErrorRefusesCall(t *testing.T) {
	cfg, _ := queueconfig.Parse("q.yaml", []byte(cfgYAML))
	g := quota.New(&failing{}, cfg)
	if err := g.Reserve(context.Background(), "directory", "push"); err == nil {
		t.Error("a call was allowed without being counted")
	}
}
