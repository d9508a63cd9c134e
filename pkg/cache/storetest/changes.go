package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// changeTests is the change feed's part of the contract.
var changeTests = []struct {
	name string
	fn   func(*testing.T, greep.Store)
}{
	{"ChangeRecords", testChangeRecords},
	{"ChangePaging", testChangePaging},
	{"ChangePrune", testChangePrune},
	{"ChangeSignal", testChangeSignal},
	{"ChangesConcurrent", testChangesConcurrent},
}

// allChanges reads the whole feed after since.
func allChanges(t *testing.T, s greep.Store, since uint64) []greep.Change {
	t.Helper()
	var out []greep.Change
	for {
		page, next, err := s.Changes(ctx, greep.ChangeQuery{Since: since, Limit: 1000})
		must(t, err)
		out = append(out, page...)
		if next == since {
			return out
		}
		since = next
	}
}

type changeSummary struct {
	Kind, Group, Member string
	Before, After       *greep.ChangeValue
}

func summarize(cs []greep.Change) []changeSummary {
	out := []changeSummary{}
	for _, c := range cs {
		out = append(out, changeSummary{c.Kind, c.GroupID, c.Member, c.Before, c.After})
	}
	return out
}

func testChangeRecords(t *testing.T, s greep.Store) {
	l, err := s.ChangeLog(ctx)
	must(t, err)
	if l != (greep.ChangeLog{}) {
		t.Fatalf("empty store's change log %+v", l)
	}
	push := greep.ChangeCause{Cause: greep.CausePush, Actor: "admin@example.com", ActivityID: "act-1", At: t0}
	pctx := greep.WithCause(ctx, push)
	must(t, s.PutGroups(pctx, []greep.Group{group("g1", "g1@example.com")}))
	alice, bob := user("alice"), user("bob")
	must(t, s.ReplaceMembers(pctx, "g1", []greep.Member{alice, bob}, "e1", t0))

	resync := greep.WithCause(ctx, greep.ChangeCause{Cause: greep.CauseResync, At: t0.Add(time.Hour)})
	// Nothing a reader can see changes: no record.
	g := group("g1", "g1@example.com")
	g.SyncedAt = t0.Add(time.Hour)
	must(t, s.PutGroups(resync, []greep.Group{g}))
	must(t, s.ReplaceMembers(resync, "g1", []greep.Member{bob, alice}, "e1", t0.Add(time.Hour)))
	l, err = s.ChangeLog(ctx)
	must(t, err)
	if l.Head != 3 {
		t.Errorf("after unchanged writes the head is %d, want 3 (created, 2 added)", l.Head)
	}

	// A removal, an addition, a role and a status change.
	boss := alice
	boss.Role, boss.Status = "OWNER", "SUSPENDED"
	carol := user("carol")
	must(t, s.ReplaceMembers(resync, "g1", []greep.Member{boss, carol}, "e2", t0.Add(time.Hour)))
	g.Email, g.Name = "renamed@example.com", "Renamed"
	must(t, s.PutGroups(resync, []greep.Group{g}))
	must(t, s.DeleteGroup(resync, "g1"))

	got := allChanges(t, s, 0)
	gv := func(email, name string) *greep.ChangeValue {
		return &greep.ChangeValue{ID: "g1", Email: email, Name: name}
	}
	mv := greep.MemberValue
	want := []changeSummary{
		{greep.ChangeGroupCreated, "g1", "", nil, gv("g1@example.com", "Group g1")},
		{greep.ChangeAdded, "g1", alice.Email, nil, mv(alice)},
		{greep.ChangeAdded, "g1", bob.Email, nil, mv(bob)},
		{greep.ChangeRemoved, "g1", bob.Email, mv(bob), nil},
		{greep.ChangeRoleChanged, "g1", alice.Email, mv(alice), mv(boss)},
		{greep.ChangeStatusChanged, "g1", alice.Email, mv(alice), mv(boss)},
		{greep.ChangeAdded, "g1", carol.Email, nil, mv(carol)},
		{greep.ChangeGroupRenamed, "g1", "", gv("g1@example.com", "Group g1"), gv("renamed@example.com", "Renamed")},
		{greep.ChangeGroupDeleted, "g1", "", gv("renamed@example.com", "Renamed"), nil},
	}
	if !reflect.DeepEqual(summarize(got), want) {
		t.Errorf("feed:\n%+v\nwant\n%+v", summarize(got), want)
	}
	for i, c := range got {
		if c.Cursor != uint64(i+1) {
			t.Errorf("record %d has cursor %d, want %d", i, c.Cursor, i+1)
		}
	}
	if len(got) == len(want) {
		if c := got[1]; c.Cause != greep.CausePush || c.Actor != push.Actor || c.ActivityID != push.ActivityID || !c.Time.Equal(t0) || c.Group != "g1@example.com" {
			t.Errorf("push record %+v: cause, actor, activity id, time or group email lost", c)
		}
		if c := got[4]; c.Cause != greep.CauseResync || c.Actor != "" || !c.Time.Equal(t0.Add(time.Hour)) {
			t.Errorf("resync record %+v", c)
		}
	}
	l, err = s.ChangeLog(ctx)
	must(t, err)
	if l.Head != uint64(len(want)) {
		t.Errorf("head %d, want %d", l.Head, len(want))
	}
}

func testChangePaging(t *testing.T, s greep.Store) {
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com"), group("g2", "g2@example.com")}))
	for i := range 5 {
		must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user(fmt.Sprint("a", i))}, "e", t0))
		must(t, s.ReplaceMembers(ctx, "g2", []greep.Member{user(fmt.Sprint("b", i))}, "e", t0))
	}
	// 2 created, then per round: g1 and g2 each one added (+ one removed after the first).
	all := allChanges(t, s, 0)
	if len(all) != 2+2+4*4 {
		t.Fatalf("%d records, want 20", len(all))
	}
	page, next, err := s.Changes(ctx, greep.ChangeQuery{Since: 0, Limit: 3})
	must(t, err)
	if len(page) != 3 || next != 3 || page[0].Cursor != 1 {
		t.Errorf("first page of 3: %d records, next %d", len(page), next)
	}
	page, next, err = s.Changes(ctx, greep.ChangeQuery{Since: 3, Limit: 3})
	must(t, err)
	if len(page) != 3 || next != 6 || page[0].Cursor != 4 {
		t.Errorf("second page of 3: %d records from %d, next %d", len(page), page[0].Cursor, next)
	}
	for _, key := range []string{"g2", "G2@Example.com"} {
		var got []greep.Change
		since := uint64(0)
		for {
			page, next, err := s.Changes(ctx, greep.ChangeQuery{Since: since, Group: key, Limit: 2})
			must(t, err)
			got = append(got, page...)
			if next == since {
				break
			}
			if next < since {
				t.Fatalf("next %d went back from %d", next, since)
			}
			since = next
		}
		if len(got) != 10 {
			t.Errorf("group %s: %d records, want 10", key, len(got))
		}
		for _, c := range got {
			if c.GroupID != "g2" {
				t.Errorf("group %s filter returned %+v", key, c)
			}
		}
	}
	head := all[len(all)-1].Cursor
	page, next, err = s.Changes(ctx, greep.ChangeQuery{Since: head})
	must(t, err)
	if len(page) != 0 || next != head {
		t.Errorf("at the head: %d records, next %d", len(page), next)
	}
	_, _, err = s.Changes(ctx, greep.ChangeQuery{Since: head + 1})
	wantCode(t, "a cursor past the head", err, greep.EINVALID)
}

func testChangePrune(t *testing.T, s greep.Store) {
	old := greep.WithCause(ctx, greep.ChangeCause{At: t0})
	recent := greep.WithCause(ctx, greep.ChangeCause{At: t0.Add(48 * time.Hour)})
	must(t, s.PutGroups(old, []greep.Group{group("g1", "g1@example.com")}))
	must(t, s.ReplaceMembers(old, "g1", []greep.Member{user("a"), user("b")}, "e", t0))
	must(t, s.ReplaceMembers(recent, "g1", []greep.Member{user("a")}, "e", t0))
	// Records 1-3 are old, 4 is recent.
	cutoff := t0.Add(24 * time.Hour)
	total := 0
	for {
		n, err := s.PruneChanges(ctx, cutoff, 1)
		must(t, err)
		if n == 0 {
			break
		}
		total += n
	}
	if total != 3 {
		t.Errorf("pruned %d records, want 3", total)
	}
	l, err := s.ChangeLog(ctx)
	must(t, err)
	if l.Pruned != 3 || l.Head != 4 {
		t.Errorf("change log after pruning %+v, want head 4 pruned 3", l)
	}
	for _, since := range []uint64{0, 2} {
		_, _, err = s.Changes(ctx, greep.ChangeQuery{Since: since})
		wantCode(t, fmt.Sprintf("cursor %d in the pruned part", since), err, greep.EGONE)
	}
	page, next, err := s.Changes(ctx, greep.ChangeQuery{Since: 3})
	must(t, err)
	if len(page) != 1 || page[0].Kind != greep.ChangeRemoved || next != 4 {
		t.Errorf("after the pruned part: %+v next %d", page, next)
	}
}

func testChangeSignal(t *testing.T, s greep.Store) {
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com")}))
	ch := s.ChangeSignal()
	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("a")}, "e", t0))
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("the signal was not given after a commit with change records")
	}
}

// testChangesConcurrent: writers on many groups at once leave a feed whose cursors run
// 1..head without a gap or repeat, and whose replay gives every group's stored list.
func testChangesConcurrent(t *testing.T, s greep.Store) {
	const groups, rounds = 6, 4
	var gs []greep.Group
	for i := range groups {
		gs = append(gs, group(fmt.Sprint("g", i), fmt.Sprintf("g%d@example.com", i)))
	}
	must(t, s.PutGroups(ctx, gs))
	var wg sync.WaitGroup
	errs := make(chan error, groups*rounds)
	for _, g := range gs {
		wg.Go(func() {
			for r := range rounds {
				ms := []greep.Member{user(fmt.Sprintf("%s-u%d", g.ID, r)), user("shared")}
				if r%2 == 1 {
					ms[1].Role = "OWNER"
				}
				if err := s.ReplaceMembers(ctx, g.ID, ms, "e", t0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := allChanges(t, s, 0)
	replay := map[string]map[string]greep.Member{}
	for i, c := range all {
		if c.Cursor != uint64(i+1) {
			t.Fatalf("record %d has cursor %d: cursors must run 1..head", i, c.Cursor)
		}
		if replay[c.GroupID] == nil {
			replay[c.GroupID] = map[string]greep.Member{}
		}
		switch c.Kind {
		case greep.ChangeRemoved:
			delete(replay[c.GroupID], cache.MemberIdentity(c.Before.Member()))
		case greep.ChangeGroupCreated:
		default:
			replay[c.GroupID][cache.MemberIdentity(c.After.Member())] = c.After.Member()
		}
	}
	for _, g := range gs {
		ms, err := s.Members(ctx, g.ID)
		must(t, err)
		var got []greep.Member
		for _, m := range replay[g.ID] {
			got = append(got, m)
		}
		cache.SortMembers(got)
		if !reflect.DeepEqual(got, ms) {
			t.Errorf("group %s: the feed replays to %+v, the store holds %+v", g.ID, got, ms)
		}
	}
}
