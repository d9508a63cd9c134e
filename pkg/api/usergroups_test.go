package api

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// A user's groups are served by version: a change elsewhere in the tenant leaves the kept
// answer served (no reverse-index read), and every change that moves the user in or out of
// a group, directly or through nesting, shows in the next read.
func TestUserGroupsFollowMembershipChanges(t *testing.T) {
	st := fixture()
	var indexReads atomic.Int64
	st.Intercept(func(op string) error {
		if op == "MemberOf" {
			indexReads.Add(1)
		}
		return nil
	})
	now := t0
	s, err := newServer(Config{Store: st, Auth: principals{token: allScopes()}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	groups := func() []string {
		t.Helper()
		var a struct{ Groups []struct{ Email string } }
		get(t, s.router, "/v1/users/user0501@example.com/groups?transitive=true").decode(t, &a)
		var out []string
		for _, g := range a.Groups {
			out = append(out, g.Email)
		}
		return out
	}
	put := func(id string, ms ...greep.Member) {
		g, err := st.Group(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		g.MembersSyncedAt = g.MembersSyncedAt.Add(time.Second)
		st.put(g, ms)
	}
	want := func(step string, emails ...string) {
		t.Helper()
		if got := groups(); !slices.Equal(got, emails) {
			t.Fatalf("%s: groups %v, want %v", step, got, emails)
		}
	}

	want("first read", "big@example.com", "eng@example.com", "ops@eng.example.com")
	reads := indexReads.Load()
	put("g-f000", user(7)) // nothing to do with user 501
	want("after a change elsewhere", "big@example.com", "eng@example.com", "ops@eng.example.com")
	if n := indexReads.Load() - reads; n != 0 {
		t.Errorf("a change elsewhere made the answer again (%d index reads)", n)
	}

	put("g-f001", user(501))
	want("added to a group", "big@example.com", "eng@example.com", "filler001@example.com", "ops@eng.example.com")

	put("g-f002", groupMember("g-ops", "ops@eng.example.com")) // one of its groups nested in another
	want("an ancestor nested", "big@example.com", "eng@example.com", "filler001@example.com", "filler002@example.com", "ops@eng.example.com")

	put("g-ops", groupMember("g-eng", "eng@example.com")) // removed from the group it reached the others through
	want("removed", "filler001@example.com")

	// Past the refresh an answer is made again even without a change, so its syncedAt
	// follows groups read again unchanged.
	reads = indexReads.Load()
	now = now.Add(userGroupsRefresh)
	want("after the refresh", "filler001@example.com")
	if indexReads.Load() == reads {
		t.Error("the answer was not made again after userGroupsRefresh")
	}
}

// More changes than a request reads make the answer again; it is still right.
func TestUserGroupsAfterManyChanges(t *testing.T) {
	st := fixture()
	s := newTestServer(t, st, nil)
	s.users = newUserAnswers(DefaultCacheUserGroups)
	var a struct{ Groups []struct{ Email string } }
	get(t, s.router, "/v1/users/u0501/groups").decode(t, &a)
	for i := range userGroupsRecheck + 10 {
		g, _ := st.Group(context.Background(), fmt.Sprintf("g-f%03d", i%300))
		g.MembersSyncedAt = t0.Add(time.Duration(i+1) * time.Second)
		st.put(g, []greep.Member{user(1000 + i)})
	}
	g, _ := st.Group(context.Background(), "g-f299")
	st.put(g, []greep.Member{user(501)})
	get(t, s.router, "/v1/users/u0501/groups").decode(t, &a)
	if len(a.Groups) != 2 || a.Groups[0].Email != "filler299@example.com" {
		t.Errorf("groups %v, want filler299 and ops", a.Groups)
	}
}

// The users' groups cache keeps at most its budget of bytes.
func TestUserGroupsCacheBound(t *testing.T) {
	const budget = 4000
	c := newUserAnswers(budget)
	for i := range 100 {
		a := &userAnswer{body: make([]byte, 300), touches: map[string]bool{"g": true}}
		c.put(fmt.Sprint(i), a)
		if c.used > budget {
			t.Fatalf("after %d answers: %d bytes kept, budget %d", i+1, c.used, budget)
		}
		if c.get(fmt.Sprint(i)) != a {
			t.Fatalf("the newest answer %d is not kept", i)
		}
	}
	sum := 0
	for _, a := range c.m {
		sum += a.size()
	}
	if sum != c.used || len(c.m) < 2 {
		t.Errorf("%d answers of %d bytes counted as %d", len(c.m), sum, c.used)
	}
	c.put("huge", &userAnswer{body: make([]byte, budget)})
	if c.get("huge") != nil {
		t.Error("an answer larger than the budget was kept")
	}
}
