package api

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// A page served from the page cache follows the store: after a membership change, the
// next read on both surfaces shows it, and the pages served before it are not served
// again.
func TestCachedPagesFollowMembershipChanges(t *testing.T) {
	st := fixture()
	s := newTestServer(t, st, nil)
	paths := map[string]string{
		"v1":  "/v1/groups/big@example.com/members?maxResults=200",
		"dir": "/admin/directory/v1/groups/big@example.com/members",
	}
	type page struct {
		Members []struct{ Email string }
	}
	for _, p := range paths {
		for range 2 { // the second read is served from the page cache
			var a page
			get(t, s.router, p).decode(t, &a)
			if len(a.Members) != 200 || a.Members[0].Email != "eng@example.com" {
				t.Fatalf("%s: %d members from %v", p, len(a.Members), a.Members[:1])
			}
		}
	}
	g, _ := st.Group(context.Background(), "g-big")
	ms, _ := st.Members(context.Background(), "g-big")
	g.MembersSyncedAt = t0.Add(time.Minute)
	g.MembersETag = `"big-2"`
	first := user(0)
	first.ID, first.Email = "a0", "aaa@example.com"
	st.put(g, append(ms[1:], first))
	for name, p := range paths {
		var a page
		get(t, s.router, p).decode(t, &a)
		if len(a.Members) != 200 || a.Members[0].Email != "aaa@example.com" {
			t.Errorf("%s after the change: %d members, first %v; want aaa@example.com first", name, len(a.Members), a.Members[:1])
		}
	}
}

// A snapshot keeps pages holding at most pageCacheFactor times its members.
func TestPageCacheBound(t *testing.T) {
	var c pageCache
	const total = 10
	kept := 0
	for i := range 100 {
		k := pageKey{surface: "v1", cursor: fmt.Sprint(i), limit: 3}
		c.put(k, newKeptPage([]byte("page"), "", false, "", time.Time{}), 3, total)
		if _, ok := c.get(k); ok {
			kept++
		}
	}
	if c.members > pageCacheFactor*total {
		t.Errorf("pages hold %d members, bound %d", c.members, pageCacheFactor*total)
	}
	if kept != pageCacheFactor*total/3 {
		t.Errorf("kept %d pages of 3 members, want %d", kept, pageCacheFactor*total/3)
	}
	// An empty page counts as one member, so empty pages are bounded too.
	var e pageCache
	for i := range 100 {
		e.put(pageKey{cursor: fmt.Sprint(i)}, newKeptPage([]byte("{}"), "", false, "", time.Time{}), 0, 0)
	}
	if len(e.m) != pageCacheFactor {
		t.Errorf("%d empty pages kept for an empty snapshot, want %d", len(e.m), pageCacheFactor)
	}
}
