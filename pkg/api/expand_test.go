package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
)

// An expansion is merged once per version of the groups it reads, on both surfaces, and
// again as soon as one of them changes.
func TestExpansionsCachedByVersion(t *testing.T) {
	st := fixture()
	s := newTestServer(t, st, nil)
	ctx := withPrincipal(context.Background(), allScopes())
	big, _ := st.Group(ctx, "g-big")
	for _, kind := range []nesting{transitiveUsers, derivedMembers} {
		x1, err := s.expand(ctx, big, kind)
		if err != nil {
			t.Fatal(err)
		}
		x2, err := s.expand(ctx, big, kind)
		if err != nil {
			t.Fatal(err)
		}
		if x1.snap != x2.snap {
			t.Errorf("kind %d: the same versions expanded twice", kind)
		}
	}
	// ops, nested two levels down, changes: both expansions follow.
	ops, _ := st.Group(ctx, "g-ops")
	ms, _ := st.Members(ctx, "g-ops")
	ops.MembersSyncedAt = ops.MembersSyncedAt.Add(time.Minute)
	st.put(ops, append(ms, user(777)))
	for _, kind := range []nesting{transitiveUsers, derivedMembers} {
		x, err := s.expand(ctx, big, kind)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := findMember(x.snap, memberRef{email: "user0777@example.com"}); !ok {
			t.Errorf("kind %d: a nested group's new member is missing after its version changed", kind)
		}
	}
	var p struct{ Members []greep.Member }
	get(t, s.router, "/v1/groups/big@example.com/members?transitive=true&maxResults=1000").decode(t, &p)
	if len(p.Members) != 454 {
		t.Errorf("transitive after the change: %d members, want 454", len(p.Members))
	}
}

// Too many expansions at once: a request that cannot get its turn within the wait is
// refused with 503 and Retry-After; one whose client gives up stops waiting; once the
// turn frees the same request succeeds.
func TestExpansionGate(t *testing.T) {
	s, err := newServer(Config{Store: fixture(), Auth: principals{token: allScopes()}, AnswerTTL: -1,
		MaxExpansions: 1, ExpansionWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"/v1/groups/big@example.com/members?transitive=true",
		"/admin/directory/v1/groups/big@example.com/members?includeDerivedMembership=true",
		"/admin/directory/v1/groups/big@example.com/hasMember/user0501@example.com",
	}
	s.gate.slots <- struct{}{} // every turn taken
	for _, path := range paths {
		a := get(t, s.router, path)
		a.googleError(t, http.StatusServiceUnavailable, "backendError")
		if a.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
	}
	// Direct members need no expansion and are served meanwhile.
	if a := get(t, s.router, "/v1/groups/big@example.com/members"); a.code != 200 {
		t.Errorf("direct members while expansions are busy: %d", a.code)
	}

	s.gate.wait = time.Hour
	ctx, cancel := context.WithCancel(withPrincipal(context.Background(), allScopes()))
	cancel()
	big, _ := s.store.Group(ctx, "g-big")
	if _, err := s.expand(ctx, big, transitiveUsers); err == nil {
		t.Error("a request whose client left got an expansion while every turn was taken")
	}
	<-s.gate.slots
	for _, path := range paths {
		if a := get(t, s.router, path); a.code != 200 {
			t.Errorf("%s once a turn is free: %d %s", path, a.code, a.body)
		}
	}
}

// A client limited to some groups sees nothing through a group it may not read, nested in
// one it may: not in transitive lists, derived lists, hasMember or its users' groups.
// (fixture: ops@eng.example.com nests eng@example.com, which holds user0001 and user0500.)
func TestScopeStopsAtNestedGroups(t *testing.T) {
	s := newTestServer(t, fixture(), principals{
		"slack": auth.NewPrincipal("slack", []string{auth.ScopeGroups}, []string{"*@eng.example.com"}),
		"all":   auth.NewPrincipal("all", []string{auth.ScopeGroups}, nil),
	})
	as := func(p string) []string { return []string{"Authorization", "Bearer " + p} }
	emails := func(path, who string) string {
		var p struct{ Members []greep.Member }
		do(t, s.router, "GET", path, as(who)...).decode(t, &p)
		var out []string
		for _, m := range p.Members {
			out = append(out, m.Email)
		}
		return strings.Join(out, " ")
	}
	const (
		transitive = "/v1/groups/ops@eng.example.com/members?transitive=true"
		derived    = "/admin/directory/v1/groups/ops@eng.example.com/members?includeDerivedMembership=true"
	)
	if got := emails(transitive, "slack"); got != "partner@other.com user0501@example.com" {
		t.Errorf("scoped transitive members: %s", got)
	}
	// The nested group itself is a direct member, which the client sees anyway.
	if got := emails(derived, "slack"); got != "eng@example.com partner@other.com user0501@example.com" {
		t.Errorf("scoped derived members: %s", got)
	}
	if got := emails(transitive, "all"); !strings.Contains(got, "user0001@example.com") {
		t.Errorf("unscoped transitive members lack eng's: %s", got)
	}
	hasMember := func(who, member string) bool {
		var a struct{ IsMember bool }
		do(t, s.router, "GET", "/admin/directory/v1/groups/ops@eng.example.com/hasMember/"+member, as(who)...).decode(t, &a)
		return a.IsMember
	}
	if hasMember("slack", "user0001@example.com") || hasMember("slack", "u0500") {
		t.Error("hasMember answers for a member held only through a group the client may not read")
	}
	if !hasMember("slack", "user0501@example.com") || !hasMember("all", "user0001@example.com") {
		t.Error("hasMember misses a member the client may see")
	}
	// user0001 is in ops only through eng: a scoped client does not learn it.
	var ug struct{ Groups []struct{ Email string } }
	do(t, s.router, "GET", "/v1/users/u0001/groups?transitive=true", as("slack")...).decode(t, &ug)
	if len(ug.Groups) != 0 {
		t.Errorf("scoped client sees user0001's groups through eng: %v", ug.Groups)
	}
	do(t, s.router, "GET", "/v1/users/u0001/groups?transitive=true", as("all")...).decode(t, &ug)
	if len(ug.Groups) != 3 {
		t.Errorf("unscoped user0001's groups: %v", ug.Groups)
	}
}

// With the answer TTL on, an expansion is not walked again within it unless the group's
// own members change: a nested group's change shows once the TTL has passed.
func TestExpansionWalkFollowsTheTTL(t *testing.T) {
	st := fixture()
	now := t0
	s, err := newServer(Config{Store: st, Auth: principals{token: allScopes()}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var p struct{ Members []greep.Member }
		get(t, s.router, "/v1/groups/big@example.com/members?transitive=true&maxResults=1000").decode(t, &p)
		return len(p.Members)
	}
	if n := count(); n != 453 {
		t.Fatalf("%d members, want 453", n)
	}
	ctx := context.Background()
	ops, _ := st.Group(ctx, "g-ops")
	ms, _ := st.Members(ctx, "g-ops")
	ops.MembersSyncedAt = ops.MembersSyncedAt.Add(time.Minute)
	st.put(ops, append(ms, user(777)))
	if n := count(); n != 453 {
		t.Errorf("within the TTL: %d members, want the walked 453", n)
	}
	now = now.Add(DefaultAnswerTTL)
	if n := count(); n != 454 {
		t.Errorf("after the TTL: %d members, want 454", n)
	}
	// The group's own change shows at once (once its metadata is read again).
	big, _ := st.Group(ctx, "g-big")
	bms, _ := st.Members(ctx, "g-big")
	big.MembersSyncedAt = big.MembersSyncedAt.Add(time.Minute)
	st.put(big, append(bms, user(778)))
	s.groups = newTTLCache[greep.Group](DefaultAnswerTTL, s.now, 10)
	if n := count(); n != 455 {
		t.Errorf("after the group's own change: %d members, want 455", n)
	}
}

// A member page kept for one client is not served to a client that may not read the
// group: the permission is checked on every request, kept or not.
func TestKeptGroupStillChecksTheClient(t *testing.T) {
	// The short-lived caches on, for good: the clock stands still.
	s, err := newServer(Config{Store: fixture(), Now: func() time.Time { return t0 }, AnswerTTL: time.Hour, Auth: principals{
		"slack": auth.NewPrincipal("slack", []string{auth.ScopeGroups}, []string{"*@eng.example.com"}),
		"all":   auth.NewPrincipal("all", []string{auth.ScopeGroups}, nil),
	}})
	if err != nil {
		t.Fatal(err)
	}
	const path = "/v1/groups/eng@example.com/members"
	for _, who := range []string{"all", "all", "slack", "all"} {
		a := do(t, s.router, "GET", path, "Authorization", "Bearer "+who)
		want := http.StatusOK
		if who == "slack" {
			want = http.StatusForbidden
		}
		if a.code != want {
			t.Errorf("%s as %s: %d %s, want %d", path, who, a.code, a.body, want)
		}
	}
}
