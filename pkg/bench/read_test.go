package bench

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tiny is the size of the scenarios' tests: big enough for a user in several groups.
func tiny() Options {
	return Options{Users: 60, Groups: 40, Seed: 7, QueuesFile: "../../queues.yaml", NaiveTimeScale: 1}
}

// TestRead: at a tiny size the read API answers every read from the cache, which equals
// the truth, without a quota error; reading Google instead spends one call per read.
func TestRead(t *testing.T) {
	if testing.Short() {
		t.Skip("runs greep local against a simulator")
	}
	saved := readLoad
	defer func() { readLoad = saved }()
	readLoad.workers, readLoad.each = 2, 300*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // seconds when quiet; minutes on a loaded 2-core machine
	defer cancel()
	o := tiny()
	o.Profile = filepath.Join(t.TempDir(), "read.pprof")
	res, err := Read(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// A CPU profile is gzipped: a file that does not open as gzip was never written.
	if f, err := os.Open(o.Profile); err != nil {
		t.Error(err)
	} else {
		if _, err := gzip.NewReader(f); err != nil {
			t.Errorf("the read scenario's profile: %v", err)
		}
		f.Close()
	}
	if !res.CacheEqualsTruth || res.QuotaErrors != 0 {
		t.Errorf("cache equals truth %v (%v), quota errors %d", res.CacheEqualsTruth, res.Differences, res.QuotaErrors)
	}
	for _, k := range []string{"members", "userGroupsTransitive"} {
		f := res.Figures[k].(LoadFigures)
		if f.Requests == 0 || f.Errors != 0 {
			t.Errorf("%s: %+v, want answered reads and no errors", k, f)
		}
	}
	vs := res.Figures["vsStatic"].(map[string]map[string]VsStatic)
	for _, ep := range []string{"v1Page", "compatPage", "userTransitiveGroups"} {
		for _, conns := range readConnections {
			v := vs[ep][fmt.Sprint(conns)]
			if v.Greep.Requests == 0 || v.Static.Requests == 0 || v.Greep.Errors != 0 || v.Static.Errors != 0 || v.Ratio <= 0 {
				t.Errorf("%s at %d connections: %+v, want reads on both sides, no errors and a ratio", ep, conns, v)
			}
		}
	}
	n := res.Naive
	if n == nil {
		t.Fatal("no naive figures")
	}
	m := n.Figures["members"].(LoadFigures)
	// Calls cut off when the load stopped reached the simulator without counting as reads.
	reads := m.Requests + m.Errors
	if got := n.Calls["directory.members.list"]; got < reads || got > reads+int64(readLoad.workers) {
		t.Errorf("naive: %d members.list calls for %d reads: want one call per read", got, reads)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
}
