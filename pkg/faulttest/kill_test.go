package faulttest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/greephq/greep/pkg/faults"
)

// The real greep binary, killed with SIGKILL at seeded random points of a full sync and of
// a remediation run, five times, restarted each time on the same --data: every queued task
// survives (the sync finishes, every unsafe group is patched), no patch is applied twice,
// the store file of each killed process reopens cleanly with what it had committed, and
// after a clean stop the store equals the truth.
func TestKilledGreepLocalConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the greep binary and runs it six times")
	}
	c := config(t, 100, 3)
	c.KillSeed = 1
	if v := os.Getenv("FAULTTEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULTTEST_SEED=%q: %v", v, err)
		}
		c.KillSeed = n
	}
	t.Logf("seed %d (FAULTTEST_SEED=%d reproduces the kill delays)", c.KillSeed, c.KillSeed)
	// FAULTTEST_DATA names a data directory to keep for inspection (emptied first).
	c.DataDir = os.Getenv("FAULTTEST_DATA")
	c.GreepBinary = greepBinary(t)

	r, err := faults.Kills(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	k := r.Kills
	if len(k.Kills) != faults.KillCount {
		t.Fatalf("%d kills reported, want %d", len(k.Kills), faults.KillCount)
	}
	storeProblems := map[string]bool{}
	for i, kill := range k.Kills {
		t.Run(fmt.Sprintf("store reopens after kill %d", i+1), func(t *testing.T) {
			t.Logf("killed %d ms after its trigger: %s; %d groups served", kill.DelayMillis, kill.Phase, kill.GroupsServed)
			for _, p := range kill.StoreProblems {
				t.Error(p)
				storeProblems[fmt.Sprintf("store after kill %d: %s", i+1, p)] = true
			}
		})
	}
	check(t, r, storeProblems)
	if k.MidSync == 0 || k.MidRemediation == 0 {
		t.Errorf("kills: %d mid-sync, %d mid-remediation; want both", k.MidSync, k.MidRemediation)
	}
	if m := r.Remediation; m.Patched != m.Unsafe || m.Fixed < m.Unsafe || m.ResentWithinRun != 0 {
		t.Errorf("%d unsafe groups: %d patched, %d with fixed findings, %d patches re-sent within a run; want every one patched once and fixed", m.Unsafe, m.Patched, m.Fixed, m.ResentWithinRun)
	}
	if !r.CacheEqualsTruth {
		t.Errorf("the store after the kills differs from the truth: %v", r.Differences)
	}
}
