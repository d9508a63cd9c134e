package directory_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// provisionalSetup applies, in the simulator and provisionally in the cache, the removal
// of one member of a group and the addition of a user who is not in it, and enqueues the
// refresh the webhook's debounce would. It returns the group, the two members' emails and
// the cursor the feed was at before.
func provisionalSetup(t *testing.T, e *env) (g workspacesim.TruthGroup, removed, added string, since uint64) {
	t.Helper()
	ctx := context.Background()
	truth, err := e.sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range truth.Groups {
		if len(c.Members) >= 2 && c.Members[0].Type == greep.TypeUser {
			g = c
			break
		}
	}
	removed = g.Members[0].Email
	for _, u := range truth.Users {
		if !slices.ContainsFunc(g.Members, func(m workspacesim.TruthMember) bool { return m.ID == u.ID }) {
			added = u.PrimaryEmail
			break
		}
	}
	_, since, err = e.store.Changes(ctx, greep.ChangeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Second) // the events come after the sync's read
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "removeMember", Group: g.Email, Member: removed}, {Op: "addMember", Group: g.Email, Member: added}}); err != nil {
		t.Fatal(err)
	}
	now := e.sim.Now()
	events := []greep.Event{
		{ID: "act-1", Time: now, Event: "REMOVE_GROUP_MEMBER", Group: g.Email, Member: removed, Actor: "root@example.com"},
		{ID: "act-2", Time: now, Event: "ADD_GROUP_MEMBER", Group: g.Email, Member: added, Actor: "root@example.com"},
	}
	a := &provisional.Applier{Store: e.store, Now: e.sim.Now, Log: zap.NewNop()}
	a.Apply(ctx, events)
	a.Flush()
	ms, err := e.store.Members(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if has(ms, removed) || !has(ms, added) {
		t.Fatalf("before the read the cache does not show the notification: %v", ms)
	}
	work := activity.Plan(events)
	enqueueRefresh(t, e, tasks.Refresh{Group: g.Email, Reason: "push", Expect: work.Refresh[0].Expect, ActivityID: "act-1"})
	return g, removed, added, since
}

func has(ms []greep.Member, email string) bool {
	return slices.ContainsFunc(ms, func(m greep.Member) bool { return m.Email == email })
}

func groupFeed(t *testing.T, e *env, since uint64, group string) []greep.Change {
	t.Helper()
	cs, _, err := e.store.Changes(context.Background(), greep.ChangeQuery{Since: since, Group: group, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestProvisionalChangeIsConfirmed: Google's read lags a minute, so the refresh's first
// read does not show the notification's changes; they stay provisional over it, the
// group is polled again, and the re-poll that shows them confirms them: Google's members
// (with their ids) replace the provisional ones and the feed says so.
func TestProvisionalChangeIsConfirmed(t *testing.T) {
	ctx := context.Background()
	e := synced(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5, ReadLag: time.Minute})
	g, removed, added, since := provisionalSetup(t, e)

	e.q.run()
	ms, err := e.store.Members(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if has(ms, removed) || !has(ms, added) {
		t.Fatalf("a lagging read undid the provisional changes: %v", ms)
	}
	if len(e.q.Pending()) != 1 {
		t.Fatalf("%d re-polls scheduled, want 1", len(e.q.Pending()))
	}
	e.sim.Advance(2 * time.Minute)
	e.q.release()
	e.q.run()
	if len(e.q.Pending()) != 0 {
		t.Fatal("still re-polling after Google's read shows the changes")
	}
	e.assertTruth(t)
	if marks, err := provisional.Load(ctx, e.store, g.ID); err != nil || len(marks.Members) != 0 {
		t.Fatalf("marks left after the confirmation: %+v %v", marks, err)
	}
	cur, err := e.store.Group(ctx, g.ID)
	if err != nil || cur.MembersETag != cur.ETag {
		t.Fatalf("group after the confirmation: etag %q, members read under %q (%v)", cur.ETag, cur.MembersETag, err)
	}
	var kinds []string
	for _, c := range groupFeed(t, e, since, g.ID) {
		kinds = append(kinds, c.Member+" "+c.Kind+" "+c.ActivityID+map[bool]string{true: " provisional"}[c.Provisional])
	}
	want := []string{
		removed + " removed act-1 provisional", added + " added act-2 provisional",
		added + " confirmed act-2", removed + " confirmed act-1",
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("feed:\n%q\nwant\n%q", kinds, want)
	}
}

// TestProvisionalChangeGoogleNeverShowsIsDropped: Google's read lags a day, longer than
// every re-poll: at the last one the provisional changes are dropped, logged with their
// activity ids, and the cache holds Google's answer, with the reversal in the feed.
func TestProvisionalChangeGoogleNeverShowsIsDropped(t *testing.T) {
	ctx := context.Background()
	core, logs := observer.New(zap.WarnLevel)
	e := newEnv(t, workspacesim.Config{Users: 40, Groups: 30, Seed: 5, ReadLag: 24 * time.Hour}, syncplan.Resync{},
		func(c *directory.Config) { c.Logger = zap.New(core) })
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	g, removed, added, since := provisionalSetup(t, e)

	for i := 0; i <= syncplan.DefaultRepoll.Attempts; i++ {
		e.q.run()
		ms, err := e.store.Members(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if i < syncplan.DefaultRepoll.Attempts && (has(ms, removed) || !has(ms, added)) {
			t.Fatalf("re-poll %d: the provisional changes went before the limit: %v", i, ms)
		}
		e.sim.Advance(time.Minute)
		e.q.release()
	}
	e.q.run()
	if len(e.q.Pending()) != 0 {
		t.Fatal("re-polling goes on after the limit")
	}
	ms, err := e.store.Members(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !has(ms, removed) || has(ms, added) {
		t.Fatalf("after the limit the cache still shows the unconfirmed changes: %v", ms)
	}
	if marks, err := provisional.Load(ctx, e.store, g.ID); err != nil || len(marks.Members) != 0 {
		t.Fatalf("marks left after the limit: %+v %v", marks, err)
	}
	for _, id := range []string{"act-1", "act-2"} {
		if logs.FilterMessageSnippet("provisional change dropped").FilterField(zap.String("activityId", id)).Len() != 1 {
			t.Errorf("the drop of %s is not logged: %v", id, logs.All())
		}
	}
	var reverted []string
	for _, c := range groupFeed(t, e, since, g.ID) {
		if c.Reverted {
			reverted = append(reverted, c.Member+" "+c.Kind+" "+c.ActivityID)
		}
	}
	if want := []string{added + " removed act-2", removed + " added act-1"}; !slices.Equal(reverted, want) {
		t.Fatalf("reversals in the feed %q, want %q", reverted, want)
	}
}
