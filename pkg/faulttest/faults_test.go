package faulttest

import (
	"context"
	"testing"

	"github.com/greephq/greep/pkg/faults"
)

// With 10% of API calls failing (429 rateLimitExceeded, 500 and 503 backendError) and 5%
// answered slowly, a full sync still ends with the cache equal to the truth and a
// remediation run patches every unsafe group exactly once.
func TestInjectedErrorsDuringSyncAndRemediation(t *testing.T) {
	groups := 100
	if testing.Short() {
		groups = 40
	}
	r, err := faults.InjectedErrors(context.Background(), config(t, groups, 9))
	if err != nil {
		t.Fatal(err)
	}
	check(t, r, nil)
	// The figures the problems come from, held here too.
	if !r.CacheEqualsTruth {
		t.Errorf("cache differs from the truth: %v", r.Differences)
	}
	if m := r.Remediation; m.Patched != m.Unsafe || m.Fixed != m.Unsafe || m.ResentWithinRun != 0 {
		t.Errorf("%d unsafe groups: %d patched, %d with fixed findings, %d patches re-sent; want every one patched and fixed once", m.Unsafe, m.Patched, m.Fixed, m.ResentWithinRun)
	}
	if r.InjectedFaults == 0 {
		t.Error("no fault was injected: the test proved nothing")
	}
}

// With 20% of push notifications lost while the tenant changes, the cache misses exactly
// the changes whose notification was lost, and the next resync (groups.list against the
// cache's etags) brings it back to the truth.
func TestDroppedPushesRepairedByResync(t *testing.T) {
	groups, changes := 100, 40
	if testing.Short() {
		groups, changes = 50, 30
	}
	c := config(t, groups, 5)
	c.Changes = changes
	r, err := faults.DroppedPushes(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	check(t, r, nil)
	if p := r.Pushes; p.Dropped == 0 || p.StaleBeforeResync == 0 || int64(p.StaleBeforeResync) > p.Dropped {
		t.Errorf("%d notifications dropped, %d groups stale: want some stale, never more than dropped", p.Dropped, p.StaleBeforeResync)
	}
	if !r.CacheEqualsTruth {
		t.Errorf("cache differs from the truth after the resync: %v", r.Differences)
	}
}
