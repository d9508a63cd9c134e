package api

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func TestMemoExpires(t *testing.T) {
	now := t0
	m := newTTLCache[string](time.Second, func() time.Time { return now }, 2)
	m.put("a", "A")
	if e, ok := m.get("a"); !ok || e != "A" {
		t.Fatal("fresh entry missing")
	}
	now = now.Add(time.Second)
	if _, ok := m.get("a"); ok {
		t.Error("entry served after its TTL")
	}
	m.put("b", "")
	m.put("c", "") // full: the expired "a" goes, the live ones stay
	if _, ok := m.get("b"); !ok {
		t.Error("live entry evicted while an expired one was there")
	}
	if off := newTTLCache[string](-1, time.Now, 10); func() bool { off.put("x", ""); _, ok := off.get("x"); return ok }() {
		t.Error("a negative TTL still memoizes")
	}
}

// A group's members and a user's groups follow a membership change at once; a group's
// metadata once the TTL has passed.
func TestAnswersFollowTheStoreAfterTheTTL(t *testing.T) {
	st := fixture()
	now := t0
	s, err := newServer(Config{Store: st, Auth: principals{token: allScopes()}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var a struct{ Groups []struct{ Email string } }
	get(t, s.router, "/v1/users/u0501/groups").decode(t, &a)
	if len(a.Groups) != 1 {
		t.Fatalf("groups %v", a.Groups)
	}
	var m struct{ Members []greep.Member }
	get(t, s.router, "/v1/groups/big@example.com/members?maxResults=1000").decode(t, &m)
	g, _ := st.Group(context.Background(), "g-big")
	ms, _ := st.Members(context.Background(), "g-big")
	g.MembersSyncedAt = t0.Add(time.Minute)
	st.put(g, append(ms, user(501)))
	// A member list carries the change feed's cursor it is consistent at, so its group is
	// read from the store after the cursor, never from the group cache: it follows at once.
	get(t, s.router, "/v1/groups/big@example.com/members?maxResults=1000").decode(t, &m)
	if len(m.Members) != 452 {
		t.Errorf("within the TTL: %d members, want 452 (a list with a cursor is never stale)", len(m.Members))
	}
	get(t, s.router, "/v1/users/u0501/groups").decode(t, &a)
	if len(a.Groups) != 2 {
		t.Errorf("within the TTL: %d groups, want 2 (a user's groups are kept by version)", len(a.Groups))
	}
	now = now.Add(DefaultAnswerTTL)
	get(t, s.router, "/v1/users/u0501/groups").decode(t, &a)
	if len(a.Groups) != 2 {
		t.Errorf("after the TTL: %d groups, want 2", len(a.Groups))
	}
	get(t, s.router, "/v1/groups/big@example.com/members?maxResults=1000").decode(t, &m)
	if len(m.Members) != 452 {
		t.Errorf("after the TTL: %d members, want 452", len(m.Members))
	}
}
