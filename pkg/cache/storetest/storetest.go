// Package storetest is the contract every greep.Store implementation must keep, as one
// test suite: the embedded store (pkg/cache/bolt) and the Datastore store
// (pkg/cache/datastore) both run it, so code written against greep.Store behaves the
// same on either.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) greep.Store { return newEmptyStore(t) })
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/graph"
	"github.com/greephq/greep/pkg/greep"
)

// NewFunc returns a new, empty store. The suite closes it.
type NewFunc func(t *testing.T) greep.Store

// Options tune the suite to a store's speed.
type Options struct {
	// Swaps is how many times the atomicity test replaces its 20,000-member list while
	// readers read it (default 4; at least 2, so readers meet both lists).
	Swaps int
}

// Run runs the whole contract against stores made by newStore; each test gets its own.
func Run(t *testing.T, newStore NewFunc, opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Swaps < 2 {
		o.Swaps = 4
	}
	tests := []struct {
		name string
		fn   func(*testing.T, greep.Store)
	}{
		{"Groups", testGroups},
		{"GroupPaging", testGroupPaging},
		{"Members", testMembers},
		{"MembersFrom", testMembersFrom},
		{"OlderRead", testOlderRead},
		{"MemberOf", testMemberOf},
		{"Transitive", testTransitive},
		{"DeleteGroup", testDeleteGroup},
		{"UsersAndSettings", testUsersAndSettings},
		{"UserDirectory", testUserDirectory},
		{"GroupNonEditableAliases", testGroupNonEditableAliases},
		{"Events", testEvents},
		{"EventPrune", testEventPrune},
		{"Findings", testFindings},
		{"State", testState},
		{"Counters", testCounters},
		{"Records", testRecords},
		{"BadInput", testBadInput},
		{"SnapshotAtomicity", func(t *testing.T, s greep.Store) { testSnapshotAtomicity(t, s, o.Swaps) }},
	}
	tests = append(tests, changeTests...)
	tests = append(tests, commitTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var (
	t0  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx = context.Background()
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := greep.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func group(id, email string, aliases ...string) greep.Group {
	return greep.Group{ID: id, Email: email, Aliases: aliases, Name: "Group " + id, DirectMembersCount: 1,
		ETag: "etag-" + id, SyncedAt: t0}
}

func user(id string) greep.Member {
	return greep.Member{ID: id, Email: id + "@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
}

func nested(id string) greep.Member {
	return greep.Member{ID: id, Email: id + "@groups.example.com", Role: "MEMBER", Type: greep.TypeGroup}
}

func memberIDs(ms []greep.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func testGroups(t *testing.T, s greep.Store) {
	must(t, s.PutGroups(ctx, []greep.Group{
		group("g1", "Eng@Example.com", "engineering@example.com"),
		group("g2", "ops@example.com"),
	}))
	for _, k := range []string{"g1", "Eng@Example.com", "eng@example.com", "ENG@EXAMPLE.COM", "Engineering@example.com"} {
		g, err := s.Group(ctx, k)
		if err != nil {
			t.Errorf("Group(%q): %v", k, err)
			continue
		}
		if want := group("g1", "Eng@Example.com", "engineering@example.com"); !reflect.DeepEqual(g, want) {
			t.Errorf("Group(%q) = %+v, want %+v", k, g, want)
		}
	}
	_, err := s.Group(ctx, "nobody@example.com")
	if !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("unknown group: err = %v, want not found", err)
	}

	// A snapshot's bookkeeping survives a metadata update; a changed email moves the
	// lookup with it.
	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("u1")}, "etag-m", t0.Add(time.Hour)))
	g := group("g1", "platform@example.com")
	g.Name, g.Generation = "Platform", 7
	must(t, s.PutGroups(ctx, []greep.Group{g}))
	got, err := s.Group(ctx, "platform@example.com")
	must(t, err)
	if got.Name != "Platform" || got.Generation != 7 || got.MembersETag != "etag-m" || !got.MembersSyncedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after update: %+v", got)
	}
	for _, old := range []string{"eng@example.com", "engineering@example.com"} {
		if _, err := s.Group(ctx, old); !errors.Is(err, greep.ErrNotFound) {
			t.Errorf("Group(%q) after the rename: err = %v, want not found", old, err)
		}
	}
	ms, err := s.Members(ctx, "g1")
	must(t, err)
	if len(ms) != 1 {
		t.Errorf("members after a metadata update: %v, want u1 kept", memberIDs(ms))
	}
}

func testGroupPaging(t *testing.T, s greep.Store) {
	var gs []greep.Group
	for i := range 25 {
		// Mixed case and ids out of email order: the listing sorts by folded email.
		gs = append(gs, group(fmt.Sprintf("id%02d", 24-i), fmt.Sprintf("G%02d@example.com", i)))
	}
	must(t, s.PutGroups(ctx, gs[:12]))
	must(t, s.PutGroups(ctx, gs[12:]))
	var emails []string
	token, pages := "", 0
	for {
		page, next, err := s.Groups(ctx, greep.Page{Token: token, Limit: 10})
		must(t, err)
		if len(page) > 10 {
			t.Fatalf("page of %d, limit 10", len(page))
		}
		pages++
		for _, g := range page {
			emails = append(emails, g.Email)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		token = next
	}
	if len(emails) != 25 || !slices.IsSorted(emails) || len(slices.Compact(slices.Clone(emails))) != 25 {
		t.Errorf("listing: %v, want 25 distinct emails in order", emails)
	}
	if pages != 3 {
		t.Errorf("%d pages of 10 for 25 groups, want 3", pages)
	}
	all, next, err := s.Groups(ctx, greep.Page{})
	must(t, err)
	if len(all) != 25 || next != "" {
		t.Errorf("default page: %d groups, next %q; want all 25", len(all), next)
	}
	// A whole groups.list page in one call.
	var page []greep.Group
	for i := range 200 {
		page = append(page, group(fmt.Sprintf("p%03d", i), fmt.Sprintf("page%03d@example.com", i)))
	}
	must(t, s.PutGroups(ctx, page))
	all, _, err = s.Groups(ctx, greep.Page{Limit: 500})
	must(t, err)
	if len(all) != 225 {
		t.Errorf("after putting 200 more groups in one call: %d groups, want 225", len(all))
	}
	_, _, err = s.Groups(ctx, greep.Page{Token: "not a token!"})
	wantCode(t, "bad page token", err, greep.EINVALID)
}

func testMembers(t *testing.T, s greep.Store) {
	err := s.ReplaceMembers(ctx, "nope", []greep.Member{user("u1")}, "e", t0)
	wantCode(t, "ReplaceMembers of an unknown group", err, greep.ENOTFOUND)
	_, err = s.Members(ctx, "nope")
	wantCode(t, "Members of an unknown group", err, greep.ENOTFOUND)

	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com")}))
	ms, err := s.Members(ctx, "g1")
	must(t, err)
	if len(ms) != 0 {
		t.Errorf("members before any snapshot: %v", ms)
	}

	first := []greep.Member{user("carol"), user("alice"), nested("sub"), user("bob"), user("alice")}
	first[1].Role = "OWNER"
	must(t, s.ReplaceMembers(ctx, "g1", first, "etag-1", t0))
	ms, err = s.Members(ctx, "g1")
	must(t, err)
	want := []greep.Member{user("alice"), user("bob"), user("carol"), nested("sub")}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("members = %+v\nwant %+v (by email, duplicates collapsed to the last)", ms, want)
	}
	g, err := s.Group(ctx, "g1")
	must(t, err)
	if g.MembersETag != "etag-1" || !g.MembersSyncedAt.Equal(t0) {
		t.Errorf("after ReplaceMembers: MembersETag %q MembersSyncedAt %v", g.MembersETag, g.MembersSyncedAt)
	}

	// An external member without an id, and a customer without an email.
	ext := greep.Member{Email: "Guest@Other.org", Role: "MEMBER", Type: greep.TypeExternal, Status: "ACTIVE"}
	cust := greep.Member{ID: "C0123", Role: "MEMBER", Type: greep.TypeCustomer}
	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("dave"), ext, cust}, "etag-2", t0.Add(time.Minute)))
	ms, err = s.Members(ctx, "g1")
	must(t, err)
	if want := []greep.Member{cust, user("dave"), ext}; !reflect.DeepEqual(ms, want) {
		t.Errorf("replaced members = %+v\nwant %+v", ms, want)
	}

	must(t, s.ReplaceMembers(ctx, "g1", nil, "etag-3", t0.Add(2*time.Minute)))
	ms, err = s.Members(ctx, "g1")
	must(t, err)
	if len(ms) != 0 {
		t.Errorf("after an empty snapshot: %v", memberIDs(ms))
	}
}

// testMembersFrom: ReplaceMembersFrom swaps the list only over the version it names, so a
// writer that built its list from an older version never puts it back over a newer one;
// refused, it leaves the list, the version and the change feed as they were.
func testMembersFrom(t *testing.T, s greep.Store) {
	err := s.ReplaceMembersFrom(ctx, "nope", greep.MembersVersion{}, []greep.Member{user("u1")}, "e", t0)
	wantCode(t, "ReplaceMembersFrom of an unknown group", err, greep.ENOTFOUND)

	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com")}))
	g, err := s.Group(ctx, "g1")
	must(t, err)
	must(t, s.ReplaceMembersFrom(ctx, "g1", g.MembersVersion(), []greep.Member{user("alice")}, "etag-1", t0))
	read, err := s.Group(ctx, "g1")
	must(t, err)
	if read.MembersETag != "etag-1" || !read.MembersSyncedAt.Equal(t0) {
		t.Fatalf("after ReplaceMembersFrom the first version: MembersETag %q MembersSyncedAt %v", read.MembersETag, read.MembersSyncedAt)
	}

	// A newer read goes in between: the write planned on the first version is refused.
	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("alice"), user("bob")}, "etag-2", t0.Add(time.Minute)))
	_, head, err := s.Changes(ctx, greep.ChangeQuery{})
	must(t, err)
	err = s.ReplaceMembersFrom(ctx, "g1", read.MembersVersion(), []greep.Member{user("carol")}, "etag-1~p", t0)
	wantCode(t, "ReplaceMembersFrom over a version replaced since", err, greep.ECONFLICT)
	ms, err := s.Members(ctx, "g1")
	must(t, err)
	if got := memberIDs(ms); !reflect.DeepEqual(got, []string{"alice", "bob"}) {
		t.Errorf("members after a refused ReplaceMembersFrom: %v, want the newer read's [alice bob]", got)
	}
	cur, err := s.Group(ctx, "g1")
	must(t, err)
	if cur.MembersETag != "etag-2" || !cur.MembersSyncedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("version after a refused ReplaceMembersFrom: %q %v, want etag-2 and the newer read's time", cur.MembersETag, cur.MembersSyncedAt)
	}
	changes, _, err := s.Changes(ctx, greep.ChangeQuery{Since: head})
	must(t, err)
	if len(changes) != 0 {
		t.Errorf("a refused ReplaceMembersFrom recorded changes: %+v", changes)
	}

	// Over the current version it goes in.
	must(t, s.ReplaceMembersFrom(ctx, "g1", cur.MembersVersion(), []greep.Member{user("carol")}, "etag-2~p", t0.Add(time.Minute)))
	ms, err = s.Members(ctx, "g1")
	must(t, err)
	if got := memberIDs(ms); !reflect.DeepEqual(got, []string{"carol"}) {
		t.Errorf("members after ReplaceMembersFrom the current version: %v, want [carol]", got)
	}
}

func testMemberOf(t *testing.T, s greep.Store) {
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com"), group("g2", "g2@example.com"), group("g3", "g3@example.com")}))
	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("u1"), user("u2"), nested("g3")}, "", t0))
	must(t, s.ReplaceMembers(ctx, "g2", []greep.Member{user("u1")}, "", t0))
	check := func(key string, want ...string) {
		t.Helper()
		got, err := s.MemberOf(ctx, key)
		must(t, err)
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("MemberOf(%q) = %v, want %v", key, got, want)
		}
	}
	check("u1", "g1", "g2")
	check("u1@example.com", "g1", "g2")
	check("U1@Example.COM", "g1", "g2")
	check("u2", "g1")
	check("g3", "g1")
	check("nobody@example.com")

	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("u2"), user("u3")}, "", t0))
	check("u1", "g2")
	check("u3@example.com", "g1")
	check("g3")
}

func testTransitive(t *testing.T, s greep.Store) {
	must(t, s.PutGroups(ctx, []greep.Group{group("top", "top@example.com"), group("mid", "mid@example.com"), group("leaf", "leaf@example.com")}))
	must(t, s.ReplaceMembers(ctx, "top", []greep.Member{user("a"), nested("mid")}, "", t0))
	must(t, s.ReplaceMembers(ctx, "mid", []greep.Member{user("b"), nested("leaf"), nested("elsewhere")}, "", t0))
	must(t, s.ReplaceMembers(ctx, "leaf", []greep.Member{user("c"), user("a"), nested("top")}, "", t0)) // a cycle

	ms, err := graph.Members(ctx, "top", s.Members)
	must(t, err)
	if got, want := memberIDs(ms), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("transitive members of top = %v, want %v", got, want)
	}
	anc, err := graph.Ancestors(ctx, "c@example.com", s.MemberOf)
	must(t, err)
	if want := []string{"leaf", "mid", "top"}; !reflect.DeepEqual(anc, want) {
		t.Errorf("transitive groups of c = %v, want %v", anc, want)
	}
}

func testDeleteGroup(t *testing.T, s greep.Store) {
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com", "alias@example.com"), group("g2", "g2@example.com")}))
	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("u1")}, "", t0))
	must(t, s.ReplaceMembers(ctx, "g2", []greep.Member{user("u1")}, "", t0))
	must(t, s.PutSettings(ctx, greep.GroupSettings{GroupEmail: "g1@example.com", Settings: greep.Settings{"whoCanJoin": "INVITED_CAN_JOIN"}, ReadAt: t0}))

	must(t, s.DeleteGroup(ctx, "g1"))
	for _, k := range []string{"g1", "g1@example.com", "alias@example.com"} {
		if _, err := s.Group(ctx, k); !errors.Is(err, greep.ErrNotFound) {
			t.Errorf("Group(%q) after delete: err = %v", k, err)
		}
	}
	_, err := s.Members(ctx, "g1")
	wantCode(t, "Members after delete", err, greep.ENOTFOUND)
	_, err = s.Settings(ctx, "g1@example.com")
	wantCode(t, "Settings after delete", err, greep.ENOTFOUND)
	got, err := s.MemberOf(ctx, "u1")
	must(t, err)
	if !reflect.DeepEqual(got, []string{"g2"}) {
		t.Errorf("MemberOf(u1) after delete = %v, want [g2]", got)
	}
	all, _, err := s.Groups(ctx, greep.Page{})
	must(t, err)
	if len(all) != 1 || all[0].ID != "g2" {
		t.Errorf("listing after delete: %+v", all)
	}
	must(t, s.DeleteGroup(ctx, "g1")) // again: not an error
	must(t, s.DeleteGroup(ctx, "never-was"))
	// The id can be used again, from scratch.
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com")}))
	ms, err := s.Members(ctx, "g1")
	must(t, err)
	if len(ms) != 0 {
		t.Errorf("a recreated group has members %v", memberIDs(ms))
	}
}

func testUsersAndSettings(t *testing.T, s greep.Store) {
	must(t, s.PutUsers(ctx, []greep.User{{ID: "1", PrimaryEmail: "Ann@Example.com"}, {ID: "2", PrimaryEmail: "bo@example.com", Suspended: true}}))
	for _, k := range []string{"1", "ann@example.com", "ANN@EXAMPLE.COM"} {
		u, err := s.User(ctx, k)
		if err != nil || u.ID != "1" || u.PrimaryEmail != "Ann@Example.com" {
			t.Errorf("User(%q) = %+v, %v", k, u, err)
		}
	}
	must(t, s.PutUsers(ctx, []greep.User{{ID: "1", PrimaryEmail: "ann.new@example.com", Archived: true}}))
	if _, err := s.User(ctx, "ann@example.com"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("old email after a rename: err = %v", err)
	}
	u, err := s.User(ctx, "ann.new@example.com")
	if err != nil || !u.Archived {
		t.Errorf("renamed user = %+v, %v", u, err)
	}
	if _, err := s.User(ctx, "3"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("unknown user: err = %v", err)
	}

	gs := greep.GroupSettings{GroupEmail: "Sec@Example.com", Settings: greep.Settings{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"}, ReadAt: t0}
	must(t, s.PutSettings(ctx, gs))
	got, err := s.Settings(ctx, "sec@example.com")
	must(t, err)
	if !reflect.DeepEqual(got, gs) {
		t.Errorf("Settings = %+v, want %+v", got, gs)
	}
	gs.Settings = greep.Settings{"whoCanViewGroup": "ANYONE_CAN_VIEW"}
	must(t, s.PutSettings(ctx, gs))
	got, err = s.Settings(ctx, "SEC@example.com")
	must(t, err)
	if got.Settings["whoCanViewGroup"] != "ANYONE_CAN_VIEW" {
		t.Errorf("settings not replaced: %+v", got)
	}
	// An older read never replaces a later one (a read in flight while a patch landed).
	older := greep.GroupSettings{GroupEmail: "sec@example.com", Settings: greep.Settings{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"}, ReadAt: t0.Add(-time.Second)}
	wantCode(t, "PutSettings of an older read", s.PutSettings(ctx, older), greep.ECONFLICT)
	got, err = s.Settings(ctx, "sec@example.com")
	must(t, err)
	if got.Settings["whoCanViewGroup"] != "ANYONE_CAN_VIEW" || !got.ReadAt.Equal(t0) {
		t.Errorf("an older read replaced a later one: %+v", got)
	}
	newer := greep.GroupSettings{GroupEmail: "sec@example.com", Settings: greep.Settings{"whoCanViewGroup": "ALL_IN_DOMAIN_CAN_VIEW"}, ReadAt: t0.Add(time.Second)}
	must(t, s.PutSettings(ctx, newer))
	if got, err = s.Settings(ctx, "sec@example.com"); err != nil || got.Settings["whoCanViewGroup"] != "ALL_IN_DOMAIN_CAN_VIEW" {
		t.Errorf("a later read not stored: %+v, %v", got, err)
	}
	if _, err := s.Settings(ctx, "other@example.com"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("unknown settings: err = %v", err)
	}
}

func event(id string, at time.Time, group string) greep.Event {
	return greep.Event{ID: id, Time: at, Application: "admin", Actor: "admin@example.com", Event: "ADD_GROUP_MEMBER", Group: group, Member: "u@example.com"}
}

func eventIDs(es []greep.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testEvents(t *testing.T, s greep.Store) {
	n, err := s.AddEvents(ctx, []greep.Event{
		event("e3", t0.Add(2*time.Second), "a@example.com"),
		event("e1", t0, "a@example.com"),
		event("e2b", t0.Add(time.Second), "b@example.com"),
		event("e2a", t0.Add(time.Second), "A@example.com"),
		event("e1", t0, "a@example.com"), // the same event twice in one call
	})
	must(t, err)
	if n != 4 {
		t.Errorf("added %d, want 4", n)
	}
	n, err = s.AddEvents(ctx, []greep.Event{event("e2a", t0.Add(time.Second), "a@example.com"), event("e4", t0.Add(3*time.Second), "b@example.com")})
	must(t, err)
	if n != 1 {
		t.Errorf("re-delivery: added %d, want 1", n)
	}
	list := func(q greep.EventQuery) []string {
		t.Helper()
		var ids []string
		for pages := 0; ; pages++ {
			es, next, err := s.Events(ctx, q)
			must(t, err)
			if q.Limit > 0 && len(es) > q.Limit {
				t.Fatalf("page of %d, limit %d", len(es), q.Limit)
			}
			ids = append(ids, eventIDs(es)...)
			if next == "" || pages > 10 {
				return ids
			}
			q.Token = next
		}
	}
	for _, tc := range []struct {
		q    greep.EventQuery
		want []string
	}{
		{greep.EventQuery{}, []string{"e1", "e2a", "e2b", "e3", "e4"}},
		{greep.EventQuery{Page: greep.Page{Limit: 2}}, []string{"e1", "e2a", "e2b", "e3", "e4"}},
		{greep.EventQuery{Since: t0.Add(time.Second)}, []string{"e2a", "e2b", "e3", "e4"}},
		{greep.EventQuery{Group: "a@example.com"}, []string{"e1", "e2a", "e3"}},
		{greep.EventQuery{Group: "A@EXAMPLE.COM", Since: t0.Add(time.Second), Page: greep.Page{Limit: 1}}, []string{"e2a", "e3"}},
		{greep.EventQuery{Group: "none@example.com"}, nil},
	} {
		if got := list(tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Events(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	es, _, err := s.Events(ctx, greep.EventQuery{Page: greep.Page{Limit: 1}})
	must(t, err)
	if want := event("e1", t0, "a@example.com"); len(es) != 1 || !reflect.DeepEqual(es[0], want) {
		t.Errorf("first event = %+v, want %+v", es, want)
	}
	_, _, err = s.Events(ctx, greep.EventQuery{Page: greep.Page{Token: "%%%"}})
	wantCode(t, "bad page token", err, greep.EINVALID)

	// A large delivery in one call, half of it already recorded.
	var many []greep.Event
	for i := range 120 {
		many = append(many, event(fmt.Sprintf("m%03d", i), t0.Add(time.Hour), "c@example.com"))
	}
	n, err = s.AddEvents(ctx, many[:60])
	must(t, err)
	if n != 60 {
		t.Errorf("added %d of 60", n)
	}
	n, err = s.AddEvents(ctx, many)
	must(t, err)
	if n != 60 {
		t.Errorf("added %d of 120 with 60 recorded, want 60", n)
	}
	if got := list(greep.EventQuery{Group: "c@example.com", Page: greep.Page{Limit: 50}}); len(got) != 120 {
		t.Errorf("listed %d of 120 events", len(got))
	}
}

func testFindings(t *testing.T, s greep.Store) {
	if _, err := s.Finding(ctx, "f1"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("unknown finding: err = %v", err)
	}
	f, err := s.UpdateFinding(ctx, "f1", func(f *greep.Finding) error {
		if f.ID != "" {
			t.Errorf("new finding has id %q", f.ID)
		}
		f.Group, f.Rule, f.Field, f.State = "a@example.com", "no-public", "whoCanViewGroup", greep.FindingOpen
		f.FirstSeen, f.LastSeen = t0, t0
		return nil
	})
	must(t, err)
	if f.ID != "f1" || f.State != greep.FindingOpen {
		t.Errorf("created finding = %+v", f)
	}
	for i, st := range []string{greep.FindingOpen, greep.FindingFixed, greep.FindingExempt} {
		for _, g := range []string{"a@example.com", "b@example.com"} {
			id := fmt.Sprintf("f-%s-%d", g[:1], i)
			_, err := s.UpdateFinding(ctx, id, func(f *greep.Finding) error {
				f.Group, f.Rule, f.State = g, "r", st
				return nil
			})
			must(t, err)
		}
	}
	// fn's error aborts the write.
	boom := errors.New("boom")
	if _, err := s.UpdateFinding(ctx, "f1", func(f *greep.Finding) error { f.State = greep.FindingFixed; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateFinding with a failing fn: err = %v", err)
	}
	if _, err := s.UpdateFinding(ctx, "f9", func(f *greep.Finding) error { f.State = "x"; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateFinding with a failing fn: err = %v", err)
	}
	if _, err := s.Finding(ctx, "f9"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("an aborted create was written: %v", err)
	}
	got, err := s.Finding(ctx, "f1")
	must(t, err)
	if got.State != greep.FindingOpen || !got.FirstSeen.Equal(t0) {
		t.Errorf("finding after an aborted update = %+v", got)
	}
	_, err = s.UpdateFinding(ctx, "f1", func(f *greep.Finding) error { f.ID = "other"; return nil })
	wantCode(t, "changing a finding's id", err, greep.EINVALID)

	// Concurrent read-modify-writes are serialised: none is lost.
	const workers, each = 5, 4
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := s.UpdateFinding(ctx, "f1", func(f *greep.Finding) error { f.PatchesToday++; return nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err = s.Finding(ctx, "f1")
	must(t, err)
	if got.PatchesToday != workers*each {
		t.Errorf("PatchesToday = %d after %d concurrent increments", got.PatchesToday, workers*each)
	}

	list := func(q greep.FindingQuery) []string {
		t.Helper()
		var ids []string
		for pages := 0; ; pages++ {
			fs, next, err := s.Findings(ctx, q)
			must(t, err)
			for _, f := range fs {
				ids = append(ids, f.ID)
			}
			if next == "" || pages > 10 {
				return ids
			}
			q.Token = next
		}
	}
	for _, tc := range []struct {
		q    greep.FindingQuery
		want []string
	}{
		{greep.FindingQuery{}, []string{"f-a-0", "f-a-1", "f-a-2", "f-b-0", "f-b-1", "f-b-2", "f1"}},
		{greep.FindingQuery{Page: greep.Page{Limit: 3}}, []string{"f-a-0", "f-a-1", "f-a-2", "f-b-0", "f-b-1", "f-b-2", "f1"}},
		{greep.FindingQuery{State: greep.FindingOpen}, []string{"f-a-0", "f-b-0", "f1"}},
		{greep.FindingQuery{Group: "A@example.com"}, []string{"f-a-0", "f-a-1", "f-a-2", "f1"}},
		{greep.FindingQuery{Group: "a@example.com", State: greep.FindingOpen, Page: greep.Page{Limit: 1}}, []string{"f-a-0", "f1"}},
		{greep.FindingQuery{State: greep.FindingFailed}, nil},
	} {
		if got := list(tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Findings(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// A state change moves the finding between the state listings.
	_, err = s.UpdateFinding(ctx, "f1", func(f *greep.Finding) error { f.State = greep.FindingFixed; return nil })
	must(t, err)
	if got := list(greep.FindingQuery{State: greep.FindingOpen}); !reflect.DeepEqual(got, []string{"f-a-0", "f-b-0"}) {
		t.Errorf("open findings after a fix = %v", got)
	}
}

func testState(t *testing.T, s greep.Store) {
	if _, err := s.State(ctx, greep.StateSync); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("missing state: err = %v", err)
	}
	must(t, s.UpdateState(ctx, "doc", func(cur []byte) ([]byte, error) {
		if cur != nil {
			t.Errorf("first update sees %q, want nil", cur)
		}
		return []byte(`{"n":1}`), nil
	}))
	boom := errors.New("boom")
	err := s.UpdateState(ctx, "doc", func(cur []byte) ([]byte, error) {
		if string(cur) != `{"n":1}` {
			t.Errorf("update sees %q", cur)
		}
		return []byte(`{"n":2}`), boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateState with a failing fn: err = %v", err)
	}
	b, err := s.State(ctx, "doc")
	must(t, err)
	if string(b) != `{"n":1}` {
		t.Errorf("state after an aborted update = %q", b)
	}
	must(t, s.UpdateState(ctx, "doc", func([]byte) ([]byte, error) { return nil, nil }))
	if _, err := s.State(ctx, "doc"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("state after fn returned nil: err = %v, want not found (deleted)", err)
	}

	// The JSON helpers over the interface, with concurrent writers.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				_, err := greep.UpdateStateJSON(ctx, s, greep.StateSync, func(st *greep.SyncState) error { st.Calls++; return nil })
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var st greep.SyncState
	ok, err := greep.LoadState(ctx, s, greep.StateSync, &st)
	must(t, err)
	if !ok || st.Calls != 20 {
		t.Errorf("sync state after 20 concurrent updates: found %v, calls %d", ok, st.Calls)
	}
}

func testCounters(t *testing.T, s greep.Store) {
	n, err := s.Count(ctx, "calls")
	must(t, err)
	if n != 0 {
		t.Errorf("unwritten counter = %d", n)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			for range 10 {
				if _, err := s.AddCount(ctx, "calls", 2); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	n, err = s.AddCount(ctx, "calls", -10)
	must(t, err)
	if n != 90 {
		t.Errorf("AddCount returned %d, want 90", n)
	}
	n, err = s.Count(ctx, "calls")
	must(t, err)
	if n != 90 {
		t.Errorf("Count = %d, want 90", n)
	}
	if n, _ := s.Count(ctx, "other"); n != 0 {
		t.Errorf("another counter = %d", n)
	}
}

func testRecords(t *testing.T, s greep.Store) {
	must(t, s.CreateRecord(ctx, "task", "b", []byte("B")))
	must(t, s.CreateRecord(ctx, "task", "a", []byte("A")))
	must(t, s.CreateRecord(ctx, "tomb", "a", []byte("T")))
	must(t, s.CreateRecord(ctx, "task", "empty", nil))
	err := s.CreateRecord(ctx, "task", "a", []byte("again"))
	wantCode(t, "CreateRecord of an existing record", err, greep.ECONFLICT)
	if !errors.Is(err, greep.ErrConflict) {
		t.Errorf("errors.Is(%v, ErrConflict) is false", err)
	}
	must(t, s.PutRecord(ctx, "task", "b", []byte("B2")))
	must(t, s.PutRecord(ctx, "task", "c", []byte("C")))

	walk := func(kind string) map[string]string {
		t.Helper()
		got := map[string]string{}
		var order []string
		must(t, s.Records(ctx, kind, func(id string, data []byte) error {
			if data == nil {
				t.Errorf("record %s/%s: nil data", kind, id)
			}
			got[id] = string(data)
			order = append(order, id)
			return nil
		}))
		if !slices.IsSorted(order) {
			t.Errorf("Records(%s) order %v, want id order", kind, order)
		}
		return got
	}
	if got, want := walk("task"), map[string]string{"a": "A", "b": "B2", "c": "C", "empty": ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("tasks = %v, want %v", got, want)
	}
	if got, want := walk("tomb"), map[string]string{"a": "T"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tombs = %v, want %v", got, want)
	}
	if got := walk("none"); len(got) != 0 {
		t.Errorf("unknown kind = %v", got)
	}

	// fn may change the store as it walks (the dispatcher deletes what it has run), and
	// its error stops the walk.
	must(t, s.Records(ctx, "task", func(id string, _ []byte) error { return s.DeleteRecord(ctx, "task", id) }))
	if got := walk("task"); len(got) != 0 {
		t.Errorf("after deleting while walking: %v", got)
	}
	must(t, s.DeleteRecord(ctx, "task", "a")) // missing: fine
	must(t, s.CreateRecord(ctx, "task", "a", []byte("A again")))
	must(t, s.PutRecord(ctx, "task", "z", []byte("Z")))
	stop := errors.New("stop")
	calls := 0
	err = s.Records(ctx, "task", func(string, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Records with a failing fn: err %v after %d calls", err, calls)
	}

	// More records than one batch of a paged walk.
	for i := range 300 {
		must(t, s.PutRecord(ctx, "many", fmt.Sprintf("r%04d", i), []byte{byte(i)}))
	}
	got := walk("many")
	if len(got) != 300 || got["r0299"] != string([]byte{byte(299 % 256)}) {
		t.Errorf("walked %d of 300 records", len(got))
	}

	// Deleted in batches (more than one Datastore call), missing ids and other kinds
	// left alone.
	var gone []string
	for i := range 300 {
		if i%50 != 0 {
			gone = append(gone, fmt.Sprintf("r%04d", i))
		}
	}
	for i := range 300 {
		gone = append(gone, fmt.Sprintf("missing%04d", i))
	}
	must(t, s.DeleteRecords(ctx, "many", gone))
	must(t, s.DeleteRecords(ctx, "many", nil))
	must(t, s.DeleteRecords(ctx, "no-such-kind", []string{"x"}))
	if got, want := walk("many"), map[string]string{"r0000": "\x00", "r0050": "2", "r0100": "d", "r0150": "\x96", "r0200": "\xc8", "r0250": "\xfa"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after DeleteRecords: %q, want %q", got, want)
	}
	if got := walk("tomb"); len(got) != 1 {
		t.Errorf("DeleteRecords of kind many changed kind tomb: %v", got)
	}
}

func testBadInput(t *testing.T, s greep.Store) {
	long := strings.Repeat("x", cache.MaxKeyBytes+1)
	for _, k := range []string{"", long, "bad\xffutf8", "nul\x00inside", "__reserved__"} {
		_, err := s.Group(ctx, k)
		wantCode(t, fmt.Sprintf("Group(%.20q)", k), err, greep.EINVALID)
		_, err = s.Members(ctx, k)
		wantCode(t, fmt.Sprintf("Members(%.20q)", k), err, greep.EINVALID)
		_, err = s.MemberOf(ctx, k)
		wantCode(t, fmt.Sprintf("MemberOf(%.20q)", k), err, greep.EINVALID)
		wantCode(t, fmt.Sprintf("PutGroups id %.20q", k), s.PutGroups(ctx, []greep.Group{group(k, "ok@example.com")}), greep.EINVALID)
		wantCode(t, fmt.Sprintf("PutGroups email %.20q", k), s.PutGroups(ctx, []greep.Group{group("ok", k)}), greep.EINVALID)
		wantCode(t, fmt.Sprintf("DeleteGroup(%.20q)", k), s.DeleteGroup(ctx, k), greep.EINVALID)
		_, err = s.User(ctx, k)
		wantCode(t, fmt.Sprintf("User(%.20q)", k), err, greep.EINVALID)
		wantCode(t, fmt.Sprintf("PutUsers id %.20q", k), s.PutUsers(ctx, []greep.User{{ID: k, PrimaryEmail: "a@b"}}), greep.EINVALID)
		wantCode(t, fmt.Sprintf("PutSettings(%.20q)", k), s.PutSettings(ctx, greep.GroupSettings{GroupEmail: k}), greep.EINVALID)
		_, err = s.AddEvents(ctx, []greep.Event{{ID: k, Time: t0}})
		wantCode(t, fmt.Sprintf("AddEvents id %.20q", k), err, greep.EINVALID)
		_, err = s.UpdateFinding(ctx, k, func(*greep.Finding) error { return nil })
		wantCode(t, fmt.Sprintf("UpdateFinding(%.20q)", k), err, greep.EINVALID)
		_, err = s.State(ctx, k)
		wantCode(t, fmt.Sprintf("State(%.20q)", k), err, greep.EINVALID)
		_, err = s.AddCount(ctx, k, 1)
		wantCode(t, fmt.Sprintf("AddCount(%.20q)", k), err, greep.EINVALID)
		wantCode(t, fmt.Sprintf("CreateRecord kind %.20q", k), s.CreateRecord(ctx, k, "id", nil), greep.EINVALID)
		wantCode(t, fmt.Sprintf("PutRecord id %.20q", k), s.PutRecord(ctx, "kind", k, nil), greep.EINVALID)
		wantCode(t, fmt.Sprintf("Records(%.20q)", k), s.Records(ctx, k, func(string, []byte) error { return nil }), greep.EINVALID)
		wantCode(t, fmt.Sprintf("DeleteRecords id %.20q", k), s.DeleteRecords(ctx, "kind", []string{"ok", k}), greep.EINVALID)
	}
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com")}))
	wantCode(t, "member with neither id nor email", s.ReplaceMembers(ctx, "g1", []greep.Member{{Role: "MEMBER"}}, "", t0), greep.EINVALID)
	wantCode(t, "member with a bad email", s.ReplaceMembers(ctx, "g1", []greep.Member{{Email: long}}, "", t0), greep.EINVALID)

	// Oversized values are refused whole, and what was stored before stays.
	huge := bytes.Repeat([]byte("x"), cache.MaxValueBytes+1)
	must(t, s.PutRecord(ctx, "k", "id", []byte("small")))
	wantCode(t, "oversized record", s.PutRecord(ctx, "k", "id", huge), greep.ETOOLARGE)
	wantCode(t, "oversized new record", s.CreateRecord(ctx, "k", "new", huge), greep.ETOOLARGE)
	wantCode(t, "oversized state", s.UpdateState(ctx, "doc", func([]byte) ([]byte, error) { return huge, nil }), greep.ETOOLARGE)
	g := group("g2", "g2@example.com")
	g.Description = string(huge)
	wantCode(t, "oversized group", s.PutGroups(ctx, []greep.Group{group("g3", "g3@example.com"), g}), greep.ETOOLARGE)
	wantCode(t, "oversized settings", s.PutSettings(ctx, greep.GroupSettings{GroupEmail: "g1@example.com", Settings: greep.Settings{"x": string(huge)}}), greep.ETOOLARGE)
	_, err := s.AddEvents(ctx, []greep.Event{{ID: "big", Time: t0, NewValue: string(huge)}})
	wantCode(t, "oversized event", err, greep.ETOOLARGE)
	_, err = s.UpdateFinding(ctx, "big", func(f *greep.Finding) error { f.Detail = string(huge); return nil })
	wantCode(t, "oversized finding", err, greep.ETOOLARGE)

	must(t, s.Records(ctx, "k", func(id string, data []byte) error {
		if id != "id" || string(data) != "small" {
			t.Errorf("after refused writes: record %s = %.20q", id, data)
		}
		return nil
	}))
	if _, err := s.Group(ctx, "g3"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("a refused PutGroups stored part of its batch: %v", err)
	}
	if _, err := s.Finding(ctx, "big"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("an oversized finding was stored: %v", err)
	}
	if es, _, _ := s.Events(ctx, greep.EventQuery{}); len(es) != 0 {
		t.Errorf("an oversized event was stored: %d events", len(es))
	}
}

// SnapshotMembers is the size of the lists the atomicity test swaps.
const SnapshotMembers = 20000

// testSnapshotAtomicity swaps a group between two 20,000-member lists (half of them in
// both, with a different role, so a mix is visible) while readers check every read is
// exactly one of the two lists.
func testSnapshotAtomicity(t *testing.T, s greep.Store, swaps int) {
	lists := [2][]greep.Member{}
	for v, role := range []string{"MEMBER", "OWNER"} {
		for i := range SnapshotMembers {
			n := i + v*SnapshotMembers/2
			lists[v] = append(lists[v], greep.Member{ID: fmt.Sprintf("%06d", n), Email: fmt.Sprintf("user%06d@example.com", n), Role: role, Type: greep.TypeUser, Status: "ACTIVE"})
		}
	}
	must(t, s.PutGroups(ctx, []greep.Group{group("big", "big@example.com")}))
	must(t, s.ReplaceMembers(ctx, "big", lists[0], "v0", t0))

	check := func(ms []greep.Member) error {
		if len(ms) != SnapshotMembers {
			return fmt.Errorf("read %d members, want %d", len(ms), SnapshotMembers)
		}
		v := 0
		if ms[0].Role == "OWNER" {
			v = 1
		}
		for i, m := range ms {
			if m != lists[v][i] {
				return fmt.Errorf("member %d is %+v, want %+v of list %d: a mixed snapshot", i, m, lists[v][i], v)
			}
		}
		return nil
	}
	done := make(chan struct{})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		reads int
		seen  [2]bool
	)
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				ms, err := s.Members(ctx, "big")
				if err == nil {
					err = check(ms)
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				reads++
				seen[btoi(ms[0].Role == "OWNER")] = true
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := 1; i <= swaps; i++ {
		must(t, s.ReplaceMembers(ctx, "big", lists[i%2], fmt.Sprint("v", i), t0))
	}
	swapTime := time.Since(start)
	close(done)
	wg.Wait()
	ms, err := s.Members(ctx, "big")
	must(t, err)
	if err := check(ms); err != nil || ms[0].Role != lists[swaps%2][0].Role {
		t.Errorf("final snapshot: %v (role %s), want list %d", err, ms[0].Role, swaps%2)
	}
	// Members only in the replaced list are gone from the reverse index.
	cur, gone := lists[swaps%2], lists[1-swaps%2]
	onlyGone := gone[0]
	if swaps%2 == 0 {
		onlyGone = gone[SnapshotMembers-1]
	}
	if got, err := s.MemberOf(ctx, onlyGone.Email); err != nil || len(got) != 0 {
		t.Errorf("MemberOf a member of the replaced list only = %v, %v", got, err)
	}
	if got, err := s.MemberOf(ctx, cur[0].ID); err != nil || !reflect.DeepEqual(got, []string{"big"}) {
		t.Errorf("MemberOf a current member = %v, %v", got, err)
	}
	// Leave nothing behind: a shared emulator keeps what tests write in memory.
	must(t, s.DeleteGroup(ctx, "big"))
	t.Logf("%d consistent reads during %d swaps in %v (saw list 0: %v, list 1: %v)", reads, swaps, swapTime.Round(time.Millisecond), seen[0], seen[1])
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
