package api

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
)

func feedStoreFixture(t *testing.T) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.PutGroups(ctx, []greep.Group{
		{ID: "g-eng", Email: "eng@example.com", Name: "Eng"},
		{ID: "g-ops", Email: "ops@eng.example.com", Name: "Ops"},
	}))
	must(st.ReplaceMembers(ctx, "g-eng", []greep.Member{user(1), user(2)}, "e1", t0))
	must(st.ReplaceMembers(ctx, "g-ops", []greep.Member{user(3)}, "e1", t0))
	return st
}

type changesAnswer struct {
	Changes    []greep.Change `json:"changes"`
	NextCursor string         `json:"nextCursor"`
}

func TestChangesFollowAList(t *testing.T) {
	ctx := context.Background()
	st := feedStoreFixture(t)
	s := newTestServer(t, st, nil)

	var list struct {
		Members []struct{ Email string }
		Cursor  string
	}
	get(t, s.router, "/v1/groups/eng@example.com/members").decode(t, &list)
	if list.Cursor != "5" || len(list.Members) != 2 {
		t.Fatalf("members answer %+v: want 2 members at cursor 5 (2 groups created, 3 members added)", list)
	}
	var groups struct{ Cursor string }
	get(t, s.router, "/v1/groups").decode(t, &groups)
	if groups.Cursor != "5" {
		t.Errorf("groups answer at cursor %q, want 5", groups.Cursor)
	}

	var ch changesAnswer
	get(t, s.router, "/v1/changes?since="+list.Cursor).decode(t, &ch)
	if len(ch.Changes) != 0 || ch.NextCursor != "5" {
		t.Errorf("at the head: %+v", ch)
	}
	if err := st.ReplaceMembers(ctx, "g-eng", []greep.Member{user(2), user(4)}, "e2", t0); err != nil {
		t.Fatal(err)
	}
	get(t, s.router, "/v1/changes?since="+list.Cursor).decode(t, &ch)
	if len(ch.Changes) != 2 || ch.Changes[0].Kind != greep.ChangeRemoved || ch.Changes[0].Member != user(1).Email ||
		ch.Changes[1].Kind != greep.ChangeAdded || ch.NextCursor != "7" {
		t.Errorf("after a swap: %+v", ch)
	}
	get(t, s.router, "/v1/changes?since=0&maxResults=2").decode(t, &ch)
	if len(ch.Changes) != 2 || ch.NextCursor != "2" {
		t.Errorf("a page of 2 from 0: %d records, next %s", len(ch.Changes), ch.NextCursor)
	}
	get(t, s.router, "/v1/changes?since=0&group=ops@eng.example.com").decode(t, &ch)
	for _, c := range ch.Changes {
		if c.GroupID != "g-ops" {
			t.Errorf("group filter let through %+v", c)
		}
	}
	if len(ch.Changes) != 2 || ch.NextCursor != "7" {
		t.Errorf("ops' records: %d, next %s", len(ch.Changes), ch.NextCursor)
	}
	// The record names the member and carries before and after as JSON.
	a := get(t, s.router, "/v1/changes?since=5&maxResults=1")
	for _, want := range []string{`"cursor":"6"`, `"kind":"removed"`, `"before":{"id":"u0001"`, `"groupId":"g-eng"`} {
		if !strings.Contains(string(a.body), want) {
			t.Errorf("record JSON %s lacks %s", a.body, want)
		}
	}
}

func TestChangesLongPoll(t *testing.T) {
	st := feedStoreFixture(t)
	s := newTestServer(t, st, nil)
	done := make(chan answer, 1)
	go func() {
		done <- do(t, s.router, http.MethodGet, "/v1/changes?since=5&wait=50s", "Authorization", "Bearer "+token)
	}()
	// The poll answers once a change arrives, whenever that is: write until it has.
	for i := 0; ; i++ {
		if err := st.ReplaceMembers(context.Background(), "g-ops", []greep.Member{user(100 + i)}, "e", t0); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-done:
			var ch changesAnswer
			a.decode(t, &ch)
			if len(ch.Changes) == 0 || ch.Changes[0].Cursor != 6 {
				t.Fatalf("long poll answered %+v", ch)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 400 {
			t.Fatal("the long poll never answered a change")
		}
	}
}

func TestChangesBadInput(t *testing.T) {
	st := feedStoreFixture(t)
	s := newTestServer(t, st, nil)
	get(t, s.router, "/v1/changes").googleError(t, 400, "required")
	for _, since := range []string{"abc", "-1", "1.5", "+3", "%201", "99999999999999999999999", "18446744073709551616"} {
		get(t, s.router, "/v1/changes?since="+since).googleError(t, 400, "invalid")
	}
	get(t, s.router, "/v1/changes?since=6").googleError(t, 400, "invalid") // from the future
	get(t, s.router, "/v1/changes?since=0&wait=soon").googleError(t, 400, "invalid")
	get(t, s.router, "/v1/changes?since=0&wait=-1s").googleError(t, 400, "invalid")
	get(t, s.router, "/v1/changes?since=0&maxResults=0").googleError(t, 400, "invalid")
	// A wait over the maximum is capped, not refused: with records to give it answers at once.
	if a := get(t, s.router, "/v1/changes?since=0&wait=1h"); a.code != 200 {
		t.Errorf("wait=1h: %d %s", a.code, a.body)
	}
	// Past retention: 410 and list again.
	if _, err := st.PruneChanges(context.Background(), time.Now().Add(time.Hour), 3); err != nil {
		t.Fatal(err)
	}
	a := get(t, s.router, "/v1/changes?since=1")
	a.googleError(t, 410, "gone")
	if !strings.Contains(string(a.body), "list again") {
		t.Errorf("410 does not say to list again: %s", a.body)
	}
}

func TestParseWaitCaps(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "30": 30 * time.Second, "30s": 30 * time.Second, "2m": MaxChangesWait, "999999": MaxChangesWait} {
		if got, err := parseWait(in); err != nil || got != want {
			t.Errorf("parseWait(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestChangesKeepScope(t *testing.T) {
	st := feedStoreFixture(t)
	s := newTestServer(t, st, principals{
		"slack": auth.NewPrincipal("slack", []string{auth.ScopeGroups}, []string{"*@eng.example.com"}),
		"hist":  auth.NewPrincipal("hist", []string{auth.ScopeHistory}, nil),
	})
	as := func(p string) []string { return []string{"Authorization", "Bearer " + p} }
	var ch changesAnswer
	do(t, s.router, "GET", "/v1/changes?since=0", as("slack")...).decode(t, &ch)
	if len(ch.Changes) != 2 || ch.NextCursor != "5" {
		t.Errorf("slack sees %d records (want ops' 2), next %s", len(ch.Changes), ch.NextCursor)
	}
	for _, c := range ch.Changes {
		if c.GroupID != "g-ops" {
			t.Errorf("slack sees %+v", c)
		}
	}
	do(t, s.router, "GET", "/v1/changes?since=0&group=eng@example.com", as("slack")...).googleError(t, 403, "forbidden")
	do(t, s.router, "GET", "/v1/changes?since=0", as("hist")...).googleError(t, 403, "forbidden")
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"0", "42", "18446744073709551615", "18446744073709551616", "", "-1", "+1", " 1", "1e3", "０", "00012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseCursor(s)
		if err != nil {
			if code := greep.ErrorCode(err); code != greep.EINVALID && !strings.Contains(err.Error(), "required") {
				t.Fatalf("ParseCursor(%q): error %v is not bad input", s, err)
			}
			return
		}
		// A cursor that parses is the canonical form of its number, bar leading zeros.
		if strings.TrimLeft(s, "0") != strings.TrimLeft(fmt.Sprint(n), "0") {
			t.Fatalf("ParseCursor(%q) = %d", s, n)
		}
	})
}
