package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// A member a resync found (added while push was down) is in the history, the group's
// history and the export, with cause resync and no actor; the member push added is there
// once, as the webhook's event; the first full sync's records (the baseline) are not.
func TestHistoryHasResyncChanges(t *testing.T) {
	st := newMemStore()
	ctx := context.Background()
	g := greep.Group{ID: "g1", Email: "team@example.com", Name: "Team"}
	member := func(id string) greep.Member {
		return greep.Member{ID: id, Email: id + "@example.com", Role: "MEMBER", Type: "USER", Status: "ACTIVE"}
	}
	write := func(cause greep.ChangeCause, ms ...greep.Member) {
		t.Helper()
		cctx := greep.WithCause(ctx, cause)
		if err := st.PutGroups(cctx, []greep.Group{g}); err != nil {
			t.Fatal(err)
		}
		if err := st.ReplaceMembers(cctx, g.ID, ms, "", cause.At); err != nil {
			t.Fatal(err)
		}
	}
	write(greep.ChangeCause{Cause: greep.CauseFullSync, At: t0}, member("a"))
	write(greep.ChangeCause{Cause: greep.CausePush, Actor: "admin@example.com", ActivityID: "act1", At: t0.Add(time.Minute)}, member("a"), member("b"))
	st.addEvents(t, greep.Event{ID: "act1/0", Time: t0.Add(time.Minute), Application: "admin", Actor: "admin@example.com",
		Event: "ADD_GROUP_MEMBER", Group: g.Email, Member: "b@example.com"})
	write(greep.ChangeCause{Cause: greep.CauseResync, At: t0.Add(time.Hour)}, member("a"), member("b"), member("c"))
	s := newTestServer(t, st, nil)

	check := func(where string, events []greep.Event) {
		t.Helper()
		byMember := map[string][]greep.Event{}
		for _, e := range events {
			byMember[e.Member] = append(byMember[e.Member], e)
		}
		if n := len(byMember["a@example.com"]); n != 0 {
			t.Errorf("%s: the baseline member is in the history %d times", where, n)
		}
		if b := byMember["b@example.com"]; len(b) != 1 || b[0].Actor != "admin@example.com" || b[0].Cause != "" {
			t.Errorf("%s: the pushed member: %+v, want the webhook's event once", where, b)
		}
		c := byMember["c@example.com"]
		if len(c) != 1 || c[0].Cause != greep.CauseResync || c[0].Actor != "" || c[0].Event != "ADD_GROUP_MEMBER" ||
			c[0].Group != g.Email || c[0].Cursor == "" || !c[0].Time.Equal(t0.Add(time.Hour)) {
			t.Fatalf("%s: the resynced member: %+v, want one ADD_GROUP_MEMBER of cause resync, no actor, at %v", where, c, t0.Add(time.Hour))
		}
		if !events[len(events)-1].Time.Equal(t0.Add(time.Hour)) || !events[0].Time.Equal(t0.Add(time.Minute)) {
			t.Errorf("%s: not in time order: %+v", where, events)
		}
	}
	for _, path := range []string{"/v1/history", "/v1/groups/team@example.com/history"} {
		var doc eventsAnswer
		get(t, s.router, path).decode(t, &doc)
		check(path, doc.Events)
	}

	// Reading again copies nothing twice.
	var doc eventsAnswer
	get(t, s.router, "/v1/history").decode(t, &doc)
	check("second read", doc.Events)

	a := get(t, s.router, "/v1/history?since="+url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))+"&format=ndjson")
	var events []greep.Event
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	for sc.Scan() {
		var e greep.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	check("export", events)
}

// Each kind of change record becomes the event the Reports API names the same change by;
// push and unlabelled records, and full sync records before the tenant is live, do not.
