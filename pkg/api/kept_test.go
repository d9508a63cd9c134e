package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// A kept /v1 page answers with the feed's cursor of each request: a change elsewhere in
// the tenant moves the cursor in the trailer and leaves the page's members and etag as
// they were; the etag still answers 304.
func TestKeptPageFollowsTheFeed(t *testing.T) {
	st := fixture()
	s := newTestServer(t, st, nil)
	const path = "/v1/groups/big@example.com/members?maxResults=200"
	type page struct {
		Members  []json.RawMessage `json:"members"`
		Cursor   string            `json:"cursor"`
		SyncedAt time.Time         `json:"syncedAt"`
	}
	read := func() (answer, page) {
		t.Helper()
		a := get(t, s.router, path)
		var p page
		a.decode(t, &p)
		if n, _ := strconv.Atoi(a.header.Get("Content-Length")); n != len(a.body) {
			t.Fatalf("Content-Length %s for a %d-byte body", a.header.Get("Content-Length"), len(a.body))
		}
		if len(p.Members) != 200 || p.Cursor == "" || !p.SyncedAt.Equal(t0) {
			t.Fatalf("%d members, cursor %q, syncedAt %v: %.300s", len(p.Members), p.Cursor, p.SyncedAt, a.body)
		}
		return a, p
	}
	first, p1 := read()
	if again, _ := read(); string(again.body) != string(first.body) {
		t.Fatalf("the kept page's second answer differs from its first:\n%.300s\n%.300s", again.body, first.body)
	}
	if snap := s.snaps.peek("g-big"); snap == nil || len(snap.pages.m) == 0 {
		t.Fatal("the page was not kept")
	}

	st.put(greep.Group{ID: "g-ops", Email: "ops@eng.example.com", Name: "Ops", SyncedAt: t0, MembersSyncedAt: t0.Add(time.Minute), MembersETag: `"ops-2"`},
		[]greep.Member{user(501)})
	moved, p2 := read()
	if p2.Cursor == p1.Cursor {
		t.Fatalf("cursor %q after a change elsewhere, want it moved", p2.Cursor)
	}
	for i := range p1.Members {
		if string(p2.Members[i]) != string(p1.Members[i]) {
			t.Fatalf("member %d changed with the feed's cursor: %s, was %s", i, p2.Members[i], p1.Members[i])
		}
	}
	if moved.header.Get("ETag") != first.header.Get("ETag") || moved.header.Get("X-Greep-Synced-At") != first.header.Get("X-Greep-Synced-At") {
		t.Errorf("headers moved with the feed: ETag %s, synced %s; were %s, %s", moved.header.Get("ETag"),
			moved.header.Get("X-Greep-Synced-At"), first.header.Get("ETag"), first.header.Get("X-Greep-Synced-At"))
	}
	if nm := get(t, s.router, path, "If-None-Match", first.header.Get("ETag")); nm.code != http.StatusNotModified || len(nm.body) != 0 {
		t.Errorf("If-None-Match with the kept page's etag: %d, %d bytes; want 304 and no body", nm.code, len(nm.body))
	}
}
