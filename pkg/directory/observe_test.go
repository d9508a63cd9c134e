package directory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

type freshness struct {
	mu  sync.Mutex
	got map[string][]time.Duration
}

func (f *freshness) ObserveFreshness(kind string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[kind] = append(f.got[kind], d)
}

// Freshness is measured once, by the refresh that finally shows the change, from the
// notification's arrival and from Google's event time.
func TestFreshnessIsObservedWhenTheChangeShows(t *testing.T) {
	obs := &freshness{got: map[string][]time.Duration{}}
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5, ReadLag: time.Minute}, syncplan.Resync{},
		func(c *directory.Config) { c.Freshness = obs })
	if _, err := e.worker.StartFullSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	truth, _ := e.sim.Truth("")
	g := truth.Groups[3]
	changed := e.sim.Now()
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "lagged@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(10 * time.Second)
	notified := e.sim.Now()
	enqueueRefresh(t, e, tasks.Refresh{Group: g.Email, Reason: "evt1", NotifiedAt: notified, ChangedAt: changed,
		Expect: []tasks.Expectation{{Member: "lagged@outside.test", Present: true}}})
	e.q.run()
	if n := len(obs.got["notification_to_visible"]); n != 0 {
		t.Fatalf("freshness observed %d times before the change showed", n)
	}
	e.sim.Advance(2 * time.Minute)
	e.q.release()
	e.q.run()
	vis, conf := obs.got["notification_to_visible"], obs.got["change_to_confirmed"]
	if len(vis) != 1 || len(conf) != 1 {
		t.Fatalf("observed %v, want one of each kind", obs.got)
	}
	if vis[0] < 2*time.Minute || conf[0]-vis[0] != notified.Sub(changed) {
		t.Errorf("notification to visible %s (want at least the 2 min re-poll wait), change to confirmed %s (want %s more)", vis[0], conf[0], notified.Sub(changed))
	}
}

type resyncChanges struct {
	mu sync.Mutex
	n  int
}

func (r *resyncChanges) ObserveResyncChanges(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n += n
}

// A resync reports the changes push should have announced: none on an unchanged tenant,
// one after a change nobody pushed.
func TestResyncReportsTheChangesItFinds(t *testing.T) {
	ctx := context.Background()
	obs := &resyncChanges{}
	resync := syncplan.Resync{Every: time.Hour, MaxAge: 24 * time.Hour}
	e := newEnv(t, workspacesim.Config{Users: 60, Groups: 40, Seed: 11}, resync, func(c *directory.Config) { c.ResyncChanges = obs })
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if obs.n != 0 {
		t.Fatalf("a full sync reported %d resync changes", obs.n)
	}
	e.sim.Advance(resync.Every)
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if obs.n != 0 {
		t.Fatalf("a resync of an unchanged tenant reported %d changes (the rolling slice is not a change)", obs.n)
	}
	truth, _ := e.sim.Truth("")
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: truth.Groups[2].Email, Member: "late@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(resync.Every)
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if obs.n != 1 {
		t.Errorf("a resync after one unannounced change reported %d", obs.n)
	}
}
