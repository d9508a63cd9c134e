package quota_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
)

// writeCounting counts the store writes the guard makes.
type writeCounting struct {
	counters
	writes atomic.Int64
}

func (c *writeCounting) AddCount(ctx context.Context, name string, d int64) (int64, error) {
	c.writes.Add(1)
	return c.counters.AddCount(ctx, name, d)
}

func (c *writeCounting) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.m {
		n += v
	}
	return n
}

// A large daily limit: 10,000 calls, the sweep stops at 6,000.
func bigSetup(t *testing.T, cs quota.Counter) *quota.Guard {
	t.Helper()
	cfg, err := queueconfig.Parse("q.yaml", []byte(strings.Replace(cfgYAML, "perDay: 100", "perDay: 10000", 1)))
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	return quota.New(cs, cfg, quota.WithClock(clk.now))
}

// Far from the limit a lane reserves its calls in blocks, and every call is counted in
// the store before Reserve returns: the count never trails the calls allowed.
func TestReservesInBlocksCountedBeforeTheCall(t *testing.T) {
	ctx := context.Background()
	cs := &writeCounting{}
	g := bigSetup(t, cs)
	for i := 1; i <= 1000; i++ {
		if err := g.Reserve(ctx, "directory", "sweep"); err != nil {
			t.Fatal(err)
		}
		if n := cs.total(); n < int64(i) {
			t.Fatalf("after %d calls the store counts %d: a call was allowed before it was counted", i, n)
		}
	}
	if w := cs.writes.Load(); w > 1000/16 {
		t.Errorf("%d store writes for 1,000 calls, want blocks (at most %d)", w, 1000/16)
	}
	if n := cs.total(); n > 1000+32 {
		t.Errorf("the store counts %d for 1,000 calls: more held ahead than a block", n)
	}
	u, err := g.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := u["directory"].UsedToday; got != 1000 {
		t.Errorf("usage %d, want the 1,000 calls made (held reservations are not calls)", got)
	}
	if err := g.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := cs.total(); n != 1000 {
		t.Errorf("after Release the store counts %d, want the 1,000 calls made", n)
	}
}

// Blocks shrink to one call near a cap, so a lane gets exactly its cap; a crash that
// loses a block's unused part only under-spends.
func TestBlocksExactAtTheCapAndACrashUnderSpends(t *testing.T) {
	ctx := context.Background()
	cs := &counters{}
	first := bigSetup(t, cs)
	for range 100 {
		if err := first.Reserve(ctx, "directory", "sweep"); err != nil {
			t.Fatal(err)
		}
	}
	// The first instance dies holding reservations; a second takes over.
	second := bigSetup(t, cs)
	made := 100
	for {
		err := second.Reserve(ctx, "directory", "sweep")
		if errors.Is(err, quota.ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		made++
		if made > 6000 {
			t.Fatal("the sweep crossed its cap of 6,000")
		}
	}
	if made < 6000-32 {
		t.Errorf("the sweep made %d calls, want its cap 6,000 less at most one lost block", made)
	}
	if n, _ := cs.Count(ctx, "quota/directory/2026-01-01"); n != 6000 {
		t.Errorf("the store counts %d, want the cap 6,000 (calls made and the lost block)", n)
	}
	// One instance alone gets exactly the cap.
	alone := &counters{}
	g := bigSetup(t, alone)
	made = 0
	for g.Reserve(ctx, "directory", "sweep") == nil {
		made++
	}
	if made != 6000 {
		t.Errorf("one instance made %d sweep calls, want exactly the cap 6,000", made)
	}
}

func TestBlocksNeverCrossTheLimitConcurrently(t *testing.T) {
	ctx := context.Background()
	cs := &counters{}
	g := bigSetup(t, cs)
	var ok, sweep atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lane := "push"
			if i%2 == 0 {
				lane = "sweep"
			}
			// Until refused: a lane's last worker uses what the lane holds.
			for g.Reserve(ctx, "directory", lane) == nil {
				ok.Add(1)
				if lane == "sweep" {
					sweep.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10000 || sweep.Load() > 6000 {
		t.Errorf("%d calls allowed (%d sweep), want exactly the limit 10,000, at most 6,000 of them sweep", ok.Load(), sweep.Load())
	}
	if n, _ := cs.Count(ctx, "quota/directory/2026-01-01"); n != 10000 {
		t.Errorf("the store counts %d, want 10,000", n)
	}
}
