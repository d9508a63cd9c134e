package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// feed reads the change feed after since.
func feed(t *testing.T, s greep.ChangeStore, since uint64) []greep.Change {
	t.Helper()
	var out []greep.Change
	for {
		page, next, err := s.Changes(context.Background(), greep.ChangeQuery{Since: since, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == since {
			return out
		}
		since = next
	}
}

// Every record names what wrote it: a full sync, a resync, or a push refresh with the
// activity that asked for it; a removal is in the feed with the member it removed.
func TestChangeRecordsNameTheirCause(t *testing.T) {
	ctx := context.Background()
	e := synced(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5})
	truth, _ := e.sim.Truth("")
	created := feed(t, e.store, 0)
	members := 0
	for _, g := range truth.Groups {
		members += int(g.DirectMembersCount)
	}
	if len(created) != len(truth.Groups)+members {
		t.Errorf("a full sync recorded %d changes, want %d groups created and %d members added", len(created), len(truth.Groups), members)
	}
	for _, c := range created {
		if c.Cause != greep.CauseFullSync || (c.Kind != greep.ChangeGroupCreated && c.Kind != greep.ChangeAdded) {
			t.Fatalf("full sync record %+v", c)
		}
	}
	head := created[len(created)-1].Cursor

	g := truth.Groups[1]
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "new@outside.test", Role: "MANAGER"}}); err != nil {
		t.Fatal(err)
	}
	enqueueRefresh(t, e, tasks.Refresh{Group: g.Email, Reason: "push", Actor: "boss@example.com", ActivityID: "act-7"})
	e.q.run()
	got := feed(t, e.store, head)
	if len(got) != 1 || got[0].Kind != greep.ChangeAdded || got[0].Member != "new@outside.test" || got[0].GroupID != g.ID ||
		got[0].Cause != greep.CausePush || got[0].Actor != "boss@example.com" || got[0].ActivityID != "act-7" {
		t.Errorf("after a push refresh: %+v", got)
	}
	head = got[len(got)-1].Cursor

	gone := truth.Groups[2]
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "removeMember", Group: g.Email, Member: "new@outside.test"}, {Op: "deleteGroup", Group: gone.Email}}); err != nil {
		t.Fatal(err)
	}
	if started, err := e.worker.StartResync(ctx); err != nil || !started {
		t.Fatalf("resync: %v %v", started, err)
	}
	e.q.run()
	kinds := map[string]int{}
	for _, c := range feed(t, e.store, head) {
		if c.Cause != greep.CauseResync {
			t.Errorf("resync record %+v", c)
		}
		kinds[c.Kind]++
	}
	if kinds[greep.ChangeRemoved] != 1 || kinds[greep.ChangeGroupDeleted] != 1 {
		t.Errorf("a resync after a removal and a deletion recorded %v", kinds)
	}
}

// A finished sweep prunes the records older than the retention; a reader behind them
// is told to list again.
func TestSweepPrunesTheFeed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5}, syncplan.Resync{},
		func(c *directory.Config) { c.ChangeRetention = time.Nanosecond })
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	l, err := e.store.ChangeLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.Head == 0 || l.Pruned != l.Head {
		t.Errorf("after a sweep with a retention of 1 ns the feed is %+v: every record should be pruned", l)
	}
	if _, _, err := e.store.Changes(ctx, greep.ChangeQuery{Since: 0}); !errors.Is(err, greep.ErrGone) {
		t.Errorf("reading from 0 after the prune: %v, want gone", err)
	}
}

// A sweep that prunes the feed first copies what a resync found into the history, so a
// record pruned from the 30-day feed is still in the 400-day history.
func TestPruneKeepsResyncChangesInTheHistory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5}, syncplan.Resync{},
		func(c *directory.Config) { c.ChangeRetention = time.Nanosecond })
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	truth, _ := e.sim.Truth("")
	g := truth.Groups[1]
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "late@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	if started, err := e.worker.StartResync(ctx); err != nil || !started {
		t.Fatalf("resync: %v %v", started, err)
	}
	e.q.run()
	if l, err := e.store.ChangeLog(ctx); err != nil || l.Pruned != l.Head {
		t.Fatalf("the resync's sweep left the feed %+v (%v): every record should be pruned", l, err)
	}
	events, _, err := e.store.Events(ctx, greep.EventQuery{Group: g.Email})
	if err != nil {
		t.Fatal(err)
	}
	var found []greep.Event
	for _, ev := range events {
		if ev.Member == "late@outside.test" {
			found = append(found, ev)
		}
	}
	if len(found) != 1 || found[0].Cause != greep.CauseResync || found[0].Event != "ADD_GROUP_MEMBER" || found[0].Actor != "" {
		t.Errorf("the history holds %+v for the member the resync found, want one ADD_GROUP_MEMBER of cause resync and no actor", found)
	}
}

// A finished sweep prunes the history by its own retention: events older than it go,
// the rest stay.
func TestSweepPrunesTheHistory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5}, syncplan.Resync{},
		func(c *directory.Config) { c.HistoryRetention = 48 * time.Hour })
	now := e.sim.Now()
	old := greep.Event{ID: "old", Time: now.Add(-72 * time.Hour), Event: "ADD_GROUP_MEMBER", Group: "g@example.com", Member: "a@example.com"}
	kept := greep.Event{ID: "kept", Time: now.Add(-24 * time.Hour), Event: "ADD_GROUP_MEMBER", Group: "g@example.com", Member: "b@example.com"}
	if _, err := e.store.AddEvents(ctx, []greep.Event{old, kept}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	events, _, err := e.store.Events(ctx, greep.EventQuery{Group: "g@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].ID != "kept" {
		t.Errorf("after a sweep with a history retention of 48 h: %+v, want only the event of 24 h ago", events)
	}
}
