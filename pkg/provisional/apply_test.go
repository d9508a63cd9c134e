package provisional_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
)

// readGroup is a store holding the group eng@example.com (etag e1), read at read with
// alice as its one member.
func readGroup(t *testing.T, read time.Time) (*memory.Store, greep.Group, greep.Member) {
	t.Helper()
	ctx := context.Background()
	store := memory.New()
	g := greep.Group{ID: "g1", Email: "eng@example.com", ETag: "e1"}
	if err := store.PutGroups(ctx, []greep.Group{g}); err != nil {
		t.Fatal(err)
	}
	alice := greep.Member{ID: "u-alice", Email: "alice@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	if err := store.ReplaceMembers(ctx, g.ID, []greep.Member{alice}, "e1", read); err != nil {
		t.Fatal(err)
	}
	return store, g, alice
}

// TestApply: a notification's membership events reach the cache as one new snapshot
// whose change records are provisional and name each member's activity; the last read's
// time stays; an unknown group gets nothing, logged.
func TestApply(t *testing.T) {
	ctx := context.Background()
	read := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	store, g, _ := readGroup(t, read)
	if err := store.PutUsers(ctx, []greep.User{{ID: "u-bob", PrimaryEmail: "bob@example.com", Suspended: true}}); err != nil {
		t.Fatal(err)
	}
	_, head, err := store.Changes(ctx, greep.ChangeQuery{})
	if err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zap.InfoLevel)
	a := &provisional.Applier{Store: store, Now: func() time.Time { return read.Add(time.Minute) }, Log: zap.New(core)}
	events := []greep.Event{
		{ID: "x1", Time: read.Add(10 * time.Second), Event: "ADD_GROUP_MEMBER", Group: "ENG@example.com", Member: "bob@example.com", Actor: "root@example.com"},
		{ID: "x2", Time: read.Add(20 * time.Second), Event: "REMOVE_GROUP_MEMBER", Group: "eng@example.com", Member: "alice@example.com", Actor: "root@example.com"},
		{ID: "x3", Time: read.Add(20 * time.Second), Event: "ADD_GROUP_MEMBER", Group: "nosuch@example.com", Member: "bob@example.com"},
	}
	a.Apply(ctx, events)
	a.Flush()

	ms, err := store.Members(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != "u-bob" || ms[0].Status != greep.UserSuspended || ms[0].Role != "MEMBER" {
		t.Fatalf("members %+v: want bob alone, known as the suspended user", ms)
	}
	cur, err := store.Group(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !cur.MembersSyncedAt.Equal(read) || cur.MembersETag == "e1" || provisional.BaseETag(cur.MembersETag) != "e1" {
		t.Fatalf("group after the apply: synced %v etag %q; want the read's time and a provisional etag over e1", cur.MembersSyncedAt, cur.MembersETag)
	}
	changes, _, err := store.Changes(ctx, greep.ChangeQuery{Since: head})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"alice@example.com": greep.ChangeRemoved + "/x2", "bob@example.com": greep.ChangeAdded + "/x1"}
	if len(changes) != 2 {
		t.Fatalf("%d change records, want 2: %+v", len(changes), changes)
	}
	for _, c := range changes {
		if !c.Provisional || c.Cause != greep.CausePush || want[c.Member] != c.Kind+"/"+c.ActivityID {
			t.Fatalf("record %+v: want provisional push %s", c, want[c.Member])
		}
	}
	marks, err := provisional.Load(ctx, store, g.ID)
	if err != nil || len(marks.Members) != 2 {
		t.Fatalf("marks %+v (%v): want two", marks, err)
	}
	if logs.FilterField(zap.String("reason", "unknown group")).FilterField(zap.String("activityId", "x3")).Len() != 1 {
		t.Fatalf("the event on an unknown group is not logged: %v", logs.All())
	}
	if _, err := store.Group(ctx, "nosuch@example.com"); err == nil {
		t.Fatal("an unknown group was created")
	}
}

// TestConcurrentAppliesOnOneGroup: a burst's notifications on one group, handed over at
// once, are applied in rounds that each see the previous ones: none is lost from the
// snapshot or the marks.
func TestConcurrentAppliesOnOneGroup(t *testing.T) {
	ctx := context.Background()
	read := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	store := memory.New()
	if err := store.PutGroups(ctx, []greep.Group{{ID: "g1", Email: "eng@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := store.ReplaceMembers(ctx, "g1", nil, "e1", read); err != nil {
		t.Fatal(err)
	}
	a := &provisional.Applier{Store: store, Now: func() time.Time { return read.Add(time.Minute) }, Log: zap.NewNop()}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Apply(ctx, []greep.Event{{ID: fmt.Sprintf("x%02d", i), Time: read.Add(time.Second), Event: "ADD_GROUP_MEMBER",
				Group: "eng@example.com", Member: fmt.Sprintf("m%02d@outside.example", i)}})
		}()
	}
	wg.Wait()
	a.Flush()
	ms, err := store.Members(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	marks, err := provisional.Load(ctx, store, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != n || len(marks.Members) != n {
		t.Fatalf("%d members and %d marks after %d concurrent additions", len(ms), len(marks.Members), n)
	}
}

// TestApplySettings: a notification's settings events land in the group's provisional
// settings, never in the stored settings remediation patches from; the group is judged;
// an event older than the last settings read, a malformed one and one on an unknown group
// apply nothing and are logged.
func TestApplySettings(t *testing.T) {
	ctx := context.Background()
	read := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	store := memory.New()
	if err := store.PutGroups(ctx, []greep.Group{{ID: "g1", Email: "eng@example.com"}}); err != nil {
		t.Fatal(err)
	}
	stored := greep.GroupSettings{GroupEmail: "eng@example.com", Settings: greep.Settings{"whoCanJoin": "INVITED_CAN_JOIN"}, ReadAt: read}
	if err := store.PutSettings(ctx, stored); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	var judged []string
	a := &provisional.Applier{Store: store, Now: func() time.Time { return read.Add(time.Minute) }, Log: zap.New(core),
		Changed: func(ctx context.Context, key string) { judged = append(judged, key+"/"+greep.CauseOf(ctx).ActivityID) }}
	change := func(id, group, field, value string, at time.Time) greep.Event {
		return greep.Event{ID: id, Time: at, Event: "CHANGE_GROUP_SETTING", Group: group, Setting: field, NewValue: value}
	}
	a.Apply(ctx, []greep.Event{
		change("s1", "ENG@example.com", "whoCanJoin", "ANYONE_CAN_JOIN", read.Add(10*time.Second)),
		change("s2", "eng@example.com", "whoCanJoin", "CAN_REQUEST_TO_JOIN", read.Add(-time.Second)), // before the read
		change("s3", "eng@example.com", "whoCanJoin", "WHOEVER", read.Add(20*time.Second)),           // malformed
		change("s4", "nosuch@example.com", "whoCanJoin", "ANYONE_CAN_JOIN", read.Add(20*time.Second)),
	})
	a.Flush()

	gs, err := store.Settings(ctx, "eng@example.com")
	if err != nil || gs.Settings["whoCanJoin"] != "INVITED_CAN_JOIN" || !gs.ReadAt.Equal(read) {
		t.Fatalf("stored settings %+v (%v): want Google's read untouched", gs, err)
	}
	marks, err := provisional.LoadSettings(ctx, store, "eng@example.com")
	if err != nil || len(marks.Fields) != 1 || marks.Fields[0].Value != "ANYONE_CAN_JOIN" || marks.Fields[0].ActivityID != "s1" {
		t.Fatalf("provisional settings %+v (%v): want s1's value", marks, err)
	}
	if len(judged) != 1 || judged[0] != "eng@example.com/s1" {
		t.Fatalf("judged %v: want the group once, caused by s1", judged)
	}
	for id, reason := range map[string]string{"s2": provisional.SkipOlder, "s3": provisional.SkipMalformed, "s4": "unknown group"} {
		if logs.FilterField(zap.String("activityId", id)).FilterField(zap.String("reason", reason)).Len() != 1 {
			t.Errorf("%s not logged as %q: %v", id, reason, logs.All())
		}
	}
	if m, _ := provisional.LoadSettings(ctx, store, "nosuch@example.com"); len(m.Fields) != 0 {
		t.Fatal("an unknown group got provisional settings")
	}
}

// TestApplyNeverPutsAnOlderListBackOverARead: a read stored between the applier's plan
// and its write (the directory worker does not take the applier's lock, and runs in
// another service in production) is Google's newer answer. The applier's snapshot went
// in over it, with the read's time set back, so the cache kept an outside member as the
// event named it (no id, no status) where Google listed it with its id, and no read was
// left to repair it. Now the
// write is refused, the events are planned again on the read, which is newer than them,
// and the attempt's marks go.
func TestApplyNeverPutsAnOlderListBackOverARead(t *testing.T) {
	ctx := context.Background()
	read := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	store, g, alice := readGroup(t, read)
	guest := greep.Member{ID: "116449797921973471828", Email: "guest@outside.example", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	later := read.Add(time.Minute) // after the event: the read shows the guest
	stored := false                // the applier's one worker makes the calls, one after the other
	store.Intercept(func(op string) error {
		if (op == "ReplaceMembers" || op == "ReplaceMembersFrom") && !stored {
			stored = true
			if err := store.ReplaceMembers(ctx, g.ID, []greep.Member{alice, guest}, "e2", later); err != nil {
				t.Error(err)
			}
		}
		return nil
	})
	a := &provisional.Applier{Store: store, Now: func() time.Time { return read.Add(30 * time.Second) }, Log: zap.NewNop()}
	a.Apply(ctx, []greep.Event{{ID: "x1", Time: read.Add(10 * time.Second), Event: "ADD_GROUP_MEMBER", Group: "eng@example.com", Member: "guest@outside.example"}})
	a.Flush()
	store.Intercept(nil)

	ms, err := store.Members(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[1] != guest {
		t.Fatalf("members %+v: want alice and the guest as the read listed them", ms)
	}
	cur, err := store.Group(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !cur.MembersSyncedAt.Equal(later) || cur.MembersETag != "e2" {
		t.Fatalf("group: synced %v etag %q; want the read's %v and e2", cur.MembersSyncedAt, cur.MembersETag, later)
	}
	if marks, err := provisional.Load(ctx, store, g.ID); err != nil || len(marks.Members) != 0 {
		t.Fatalf("marks %+v (%v): want none, the read being newer than the event", marks, err)
	}
}
