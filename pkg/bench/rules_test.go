package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestRules: at a tiny size every rule-breaking member change opens its finding and its
// removal fixes it, judged on the member writes alone (no settings read); the figures
// are the bench's, not this test's bound.
func TestRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs greep local against a simulator")
	}
	saved := rulesSpec
	defer func() { rulesSpec = saved }()
	rulesSpec.perKind = 2
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Rules(ctx, tiny())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
	n := res.Figures["changes"].(int)
	for kind, k := range res.Figures["changesByKind"].(map[string]int) {
		if k < 1 || k > 2 {
			t.Errorf("%d changes of kind %s, want 1 or 2", k, kind)
		}
	}
	for _, k := range []string{"acceptedToFindingOpen", "acceptedToFindingFixed"} {
		// A finding can follow its change within milliseconds of simulated time, which
		// the figures round to 0.00 s: only the order of the percentiles is certain.
		if f := res.Figures[k].(*Freshness); f.Changes != n || f.Unseen != 0 || f.P50 < 0 || f.P95 < f.P50 || f.Max < f.P95 {
			t.Errorf("%s %+v", k, f)
		}
	}
	if n := res.Figures["settingsReads"]; n != int64(0) {
		t.Errorf("%v settings reads while judging member changes", n)
	}
	if !res.CacheEqualsTruth || res.QuotaErrors != 0 {
		t.Errorf("cache equals truth %v (%v), quota errors %d", res.CacheEqualsTruth, res.Differences, res.QuotaErrors)
	}
}
