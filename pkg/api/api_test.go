package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
)

const token = "test-token"

func user(i int) greep.Member {
	return greep.Member{ID: fmt.Sprintf("u%04d", i), Email: fmt.Sprintf("user%04d@example.com", i), Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
}

func groupMember(id, email string) greep.Member {
	return greep.Member{ID: id, Email: email, Role: "MEMBER", Type: greep.TypeGroup, Status: "ACTIVE"}
}

// fixture: "big" with 450 users and the nested "eng"; eng holds ops and ops holds eng (a
// cycle); 300 filler groups so group listings page.
func fixture() *memStore {
	s := newMemStore()
	var big []greep.Member
	for i := range 450 {
		big = append(big, user(i))
	}
	big[0].Role = "OWNER"
	big = append(big, groupMember("g-eng", "eng@example.com"))
	s.put(greep.Group{ID: "g-big", Email: "big@example.com", Name: "Big", Aliases: []string{"everyone@example.com"}, ETag: `"big-1"`, SyncedAt: t0, MembersSyncedAt: t0, MembersETag: `"big-1"`}, big)
	s.put(greep.Group{ID: "g-eng", Email: "eng@example.com", Name: "Eng", ETag: `"eng-1"`, SyncedAt: t0, MembersSyncedAt: t0.Add(-time.Hour), MembersETag: `"eng-1"`},
		[]greep.Member{user(1), user(500), groupMember("g-ops", "ops@example.com")})
	s.put(greep.Group{ID: "g-ops", Email: "ops@eng.example.com", Name: "Ops", SyncedAt: t0, MembersSyncedAt: t0, MembersETag: `"ops-1"`},
		[]greep.Member{user(501), groupMember("g-eng", "eng@example.com"), {ID: "x1", Email: "partner@other.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}})
	for i := range 300 {
		s.put(greep.Group{ID: fmt.Sprintf("g-f%03d", i), Email: fmt.Sprintf("filler%03d@example.com", i), Name: "Filler", SyncedAt: t0, MembersSyncedAt: t0}, nil)
	}
	return s
}

func newTestServer(t *testing.T, store Store, a auth.Authenticator) *server {
	t.Helper()
	if a == nil {
		var err error
		if a, err = auth.NewStaticToken(token); err != nil {
			t.Fatal(err)
		}
	}
	// The short-lived caches are off (the clock stands still here); memo_test.go covers them.
	s, err := newServer(Config{Store: store, Auth: a, Now: func() time.Time { return t0.Add(2 * time.Hour) }, AnswerTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type answer struct {
	code   int
	header http.Header
	body   []byte
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) answer {
	t.Helper()
	return do(t, h, http.MethodGet, path, append([]string{"Authorization", "Bearer " + token}, hdr...)...)
}

func do(t *testing.T, h http.Handler, method, path string, hdr ...string) answer {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return answer{w.Code, w.Result().Header, body}
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if a.code != http.StatusOK {
		t.Fatalf("status %d: %s", a.code, a.body)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
}

// googleError checks that a is Google's error JSON with this code and reason.
func (a answer) googleError(t *testing.T, code int, reason string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Errors  []struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"errors"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("status %d, body not Google's error JSON (%v): %s", a.code, err, a.body)
	}
	if a.code != code || e.Error.Code != code || len(e.Error.Errors) != 1 || e.Error.Errors[0].Reason != reason || e.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with reason %s", a.code, a.body, code, reason)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
}

type v1GroupsPage struct {
	Groups []struct {
		ID, Email, Name    string
		DirectMembersCount int64
		SyncedAt           *time.Time
	}
	NextPageToken string
	SyncedAt      *time.Time
}

func TestV1GroupsPaging(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	var emails []string
	tok, pages := "", 0
	for {
		var p v1GroupsPage
		get(t, s.router, "/v1/groups?maxResults=120&pageToken="+url.QueryEscape(tok)).decode(t, &p)
		pages++
		if p.SyncedAt == nil {
			t.Fatal("page without syncedAt")
		}
		for _, g := range p.Groups {
			if g.SyncedAt == nil || g.ID == "" {
				t.Fatalf("group without id or syncedAt: %+v", g)
			}
			emails = append(emails, g.Email)
		}
		if tok = p.NextPageToken; tok == "" {
			break
		}
	}
	if len(emails) != 303 || pages != 3 {
		t.Fatalf("paged %d groups in %d pages, want 303 in 3", len(emails), pages)
	}
	for i := 1; i < len(emails); i++ {
		if emails[i-1] >= emails[i] {
			t.Fatalf("groups not in email order or repeated: %s then %s", emails[i-1], emails[i])
		}
	}
}

func TestV1GroupAndMembers(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	for _, key := range []string{"big@example.com", "BIG@example.com", "everyone@example.com", "g-big"} {
		var g v1Group
		get(t, s.router, "/v1/groups/"+key).decode(t, &g)
		if g.ID != "g-big" || g.DirectMembersCount != 451 || g.SyncedAt.IsZero() {
			t.Errorf("%s: got %+v", key, g)
		}
	}

	type membersPage struct {
		Members       []greep.Member
		NextPageToken string
		SyncedAt      *time.Time
	}
	var all []greep.Member
	tok := ""
	for {
		var p membersPage
		get(t, s.router, "/v1/groups/big@example.com/members?maxResults=200&pageToken="+url.QueryEscape(tok)).decode(t, &p)
		if p.SyncedAt == nil || !p.SyncedAt.Equal(t0) {
			t.Fatalf("syncedAt %v, want the snapshot's %v", p.SyncedAt, t0)
		}
		all = append(all, p.Members...)
		if tok = p.NextPageToken; tok == "" {
			break
		}
	}
	if len(all) != 451 || all[0].Email != "eng@example.com" || all[1] != (greep.Member{ID: "u0000", Email: "user0000@example.com", Role: "OWNER", Type: "USER", Status: "ACTIVE"}) {
		t.Fatalf("got %d members starting %+v", len(all), all[:2])
	}

	// Transitive: users through eng and ops (a cycle), each once, no groups.
	var p membersPage
	get(t, s.router, "/v1/groups/big@example.com/members?transitive=true&maxResults=1000").decode(t, &p)
	got := map[string]int{}
	for _, m := range p.Members {
		got[m.Email]++
		if m.Type == greep.TypeGroup {
			t.Errorf("transitive list holds group %s", m.Email)
		}
	}
	if len(p.Members) != 453 || got["user0500@example.com"] != 1 || got["user0501@example.com"] != 1 || got["partner@other.com"] != 1 || got["user0001@example.com"] != 1 {
		t.Errorf("transitive: %d members (want 453: 450 + user0500, user0501, partner)", len(p.Members))
	}
	if !p.SyncedAt.Equal(t0.Add(-time.Hour)) {
		t.Errorf("transitive syncedAt %v, want the oldest snapshot read (%v)", p.SyncedAt, t0.Add(-time.Hour))
	}
}

func TestUserGroups(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	var direct, trans struct {
		Groups   []struct{ Email string }
		SyncedAt *time.Time
	}
	get(t, s.router, "/v1/users/user0501@example.com/groups").decode(t, &direct)
	get(t, s.router, "/v1/users/u0501/groups?transitive=true").decode(t, &trans)
	emails := func(gs []struct{ Email string }) (out []string) {
		for _, g := range gs {
			out = append(out, g.Email)
		}
		return out
	}
	if got := fmt.Sprint(emails(direct.Groups)); got != "[ops@eng.example.com]" {
		t.Errorf("direct groups %s", got)
	}
	if got := fmt.Sprint(emails(trans.Groups)); got != "[big@example.com eng@example.com ops@eng.example.com]" {
		t.Errorf("transitive groups %s", got)
	}
	if trans.SyncedAt == nil {
		t.Error("no syncedAt")
	}
	var none struct{ Groups []any }
	get(t, s.router, "/v1/users/nobody@example.com/groups?transitive=true").decode(t, &none)
	if none.Groups == nil || len(none.Groups) != 0 {
		t.Errorf("unknown user: groups = %v, want []", none.Groups)
	}
}

func TestBadInput(t *testing.T) {
	st := fixture()
	s := newTestServer(t, st, nil)
	var p v1GroupsPage
	get(t, s.router, "/v1/groups?maxResults=10").decode(t, &p)
	groupsToken := p.NextPageToken
	var m struct{ NextPageToken string }
	get(t, s.router, "/v1/groups/big@example.com/members?maxResults=10").decode(t, &m)
	raw := []byte(m.NextPageToken)
	raw[3] ^= 1 // edit one character of the cursor part

	cases := []struct {
		path   string
		code   int
		reason string
	}{
		{"/v1/groups/nosuch@example.com", 404, "notFound"},
		{"/v1/groups/nosuch@example.com/members", 404, "notFound"},
		{"/admin/directory/v1/groups/nosuch@example.com", 404, "notFound"},
		{"/admin/directory/v1/groups/nosuch@example.com/members", 404, "notFound"},
		{"/v1/groups/a@b@example.com", 400, "invalid"},
		{"/v1/groups/@example.com/members", 400, "invalid"},
		{"/v1/groups/big%20x@example.com", 400, "invalid"},
		{"/v1/groups/" + strings.Repeat("x", 400), 400, "invalid"},
		{"/v1/users/a%00b/groups", 400, "invalid"},
		{"/v1/groups?maxResults=0", 400, "invalid"},
		{"/v1/groups?maxResults=1001", 400, "invalid"},
		{"/v1/groups?maxResults=ten", 400, "invalid"},
		{"/admin/directory/v1/groups?customer=my_customer&maxResults=201", 400, "invalid"},
		{"/admin/directory/v1/groups/big@example.com/members?maxResults=0", 400, "invalid"},
		{"/admin/directory/v1/groups/big@example.com/members?roles=BOSS", 400, "invalid"},
		{"/admin/directory/v1/groups", 400, "required"},
		{"/admin/directory/v1/groups?customer=my_customer&userKey=u0001", 400, "invalid"},
		{"/v1/groups/big@example.com/members?transitive=maybe", 400, "invalid"},
		{"/v1/groups?pageToken=not-a-token", 400, "invalid"},
		{"/v1/groups?pageToken=" + strings.Repeat("A", 5000), 400, "invalid"},
		// A groups token replayed on a member list, a member token on another group or
		// another filter, and an edited token: all refused.
		{"/v1/groups/big@example.com/members?pageToken=" + groupsToken, 400, "invalid"},
		{"/v1/groups/eng@example.com/members?pageToken=" + m.NextPageToken, 400, "invalid"},
		{"/v1/groups/big@example.com/members?transitive=true&pageToken=" + m.NextPageToken, 400, "invalid"},
		{"/v1/groups/big@example.com/members?pageToken=" + string(raw), 400, "invalid"},
		{"/v1/history?since=yesterday", 400, "invalid"},
		{"/v1/findings?state=closed", 400, "invalid"},
		{"/v1/nosuch", 404, "notFound"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			get(t, s.router, tc.path).googleError(t, tc.code, tc.reason)
		})
	}
	// The genuine token still works.
	if a := get(t, s.router, "/v1/groups/big@example.com/members?maxResults=10&pageToken="+m.NextPageToken); a.code != 200 {
		t.Errorf("genuine token refused: %d %s", a.code, a.body)
	}

	// A failing store is a 500 backendError that does not leak the cause.
	st.Intercept(func(string) error { return errors.New("disk on fire at /var/secret") })
	a := get(t, s.router, "/v1/groups/big@example.com/members")
	a.googleError(t, 500, "backendError")
	if strings.Contains(string(a.body), "secret") {
		t.Errorf("internal error leaked: %s", a.body)
	}
}

func TestETag(t *testing.T) {
	st := fixture()
	s := newTestServer(t, st, nil)
	for _, path := range []string{"/v1/groups/big@example.com/members", "/v1/groups/big@example.com", "/admin/directory/v1/groups/big@example.com/members", "/admin/directory/v1/groups/big@example.com"} {
		a := get(t, s.router, path)
		etag := a.header.Get("ETag")
		if a.code != 200 || etag == "" {
			t.Fatalf("%s: %d, ETag %q", path, a.code, etag)
		}
		if b := get(t, s.router, path, "If-None-Match", etag); b.code != http.StatusNotModified || len(b.body) != 0 {
			t.Errorf("%s with If-None-Match: %d, %d bytes; want 304 and no body", path, b.code, len(b.body))
		}
		if b := get(t, s.router, path, "If-None-Match", `"other"`); b.code != 200 {
			t.Errorf("%s with another etag: %d", path, b.code)
		}
	}
	path := "/v1/groups/big@example.com/members"
	etag := get(t, s.router, path).header.Get("ETag")

	// Re-synced with the same members: still 304, though syncedAt moved.
	g, _ := st.Group(context.Background(), "g-big")
	ms, _ := st.Members(context.Background(), "g-big")
	g.MembersSyncedAt = t0.Add(time.Minute)
	st.put(g, ms)
	if a := get(t, s.router, path, "If-None-Match", etag); a.code != http.StatusNotModified {
		t.Errorf("unchanged members after a resync: %d, want 304", a.code)
	}
	// A member added: 200 with the new list and a new tag.
	g.MembersSyncedAt, g.MembersETag = t0.Add(2*time.Minute), `"big-2"`
	st.put(g, append(ms, greep.Member{ID: "u-new", Email: "aaron@example.com", Role: "MEMBER", Type: "USER"}))
	a := get(t, s.router, path, "If-None-Match", etag)
	if a.code != 200 || a.header.Get("ETag") == etag || !strings.Contains(string(a.body), "aaron@example.com") {
		t.Errorf("changed members: %d, ETag %q (old %q)", a.code, a.header.Get("ETag"), etag)
	}
}

func TestHistoryAndFindings(t *testing.T) {
	st := fixture()
	for i := range 5 {
		st.addEvents(t, greep.Event{ID: fmt.Sprint("e", i), Time: t0.Add(time.Duration(i) * time.Minute), Actor: "admin@example.com",
			Event: "ADD_GROUP_MEMBER", Group: []string{"big@example.com", "gone@example.com"}[i%2], Member: "user0001@example.com"})
	}
	st.putFindings(t,
		greep.Finding{ID: "f1", Group: "big@example.com", Rule: "no-public-archive", Field: "whoCanViewGroup", State: "open", Before: "ANYONE_CAN_VIEW", After: "ALL_MEMBERS_CAN_VIEW", FirstSeen: t0, LastSeen: t0, PatchDay: "2026-11-20"},
		greep.Finding{ID: "f2", Group: "eng@example.com", Rule: "no-public-archive", Field: "whoCanViewGroup", State: "fixed", FirstSeen: t0, LastSeen: t0},
	)
	s := newTestServer(t, st, nil)
	var ev eventsAnswer
	get(t, s.router, "/v1/groups/big@example.com/history").decode(t, &ev)
	if len(ev.Events) != 3 {
		t.Errorf("big's history: %d events, want 3", len(ev.Events))
	}
	// A deleted group's history is still there by address.
	get(t, s.router, "/v1/groups/gone@example.com/history").decode(t, &ev)
	if len(ev.Events) != 2 {
		t.Errorf("gone's history: %d events, want 2", len(ev.Events))
	}
	get(t, s.router, "/v1/history?since="+t0.Add(3*time.Minute).Format(time.RFC3339)+"&maxResults=1").decode(t, &ev)
	if len(ev.Events) != 1 || ev.Events[0].ID != "e3" || ev.NextPageToken == "" {
		t.Fatalf("history since: %+v", ev)
	}
	tok := ev.NextPageToken
	// The token is bound to since.
	get(t, s.router, "/v1/history?maxResults=1&pageToken="+tok).googleError(t, 400, "invalid")
	ev = eventsAnswer{}
	get(t, s.router, "/v1/history?since="+t0.Add(3*time.Minute).Format(time.RFC3339)+"&maxResults=1&pageToken="+tok).decode(t, &ev)
	if len(ev.Events) != 1 || ev.Events[0].ID != "e4" || ev.NextPageToken != "" {
		t.Fatalf("history since, page 2: %+v", ev)
	}

	var fs map[string]any
	get(t, s.router, "/v1/findings?state=open&group=everyone@example.com").decode(t, &fs)
	list := fs["findings"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != "f1" {
		t.Fatalf("findings: %v", fs)
	}
	if _, leaked := list[0].(map[string]any)["patchDay"]; leaked {
		t.Error("findings leak patch bookkeeping")
	}
	for _, k := range []string{"id", "group", "rule", "field", "state", "before", "after", "firstSeen", "lastSeen"} {
		if _, ok := list[0].(map[string]any)[k]; !ok {
			t.Errorf("finding lacks %s", k)
		}
	}
}

func TestStatus(t *testing.T) {
	st := fixture()
	sync, _ := json.Marshal(greep.SyncState{State: "full-sync", GroupsTotal: 300, GroupsDone: 120, Groups: 303, Members: 900, LastFullSyncAt: t0})
	st.putState(t, greep.StateSync, sync)
	chans, _ := json.Marshal([]greep.Channel{{ID: "ch1", Application: "admin", Token: "SECRET-TOKEN", Expiration: t0.Add(6 * time.Hour), State: "live"},
		{ID: "ch0", Application: "admin", Expiration: t0.Add(time.Hour), State: "live"}})
	st.putState(t, greep.StateChannels, chans)
	s := newTestServer(t, st, nil)
	s.status = fakeStatus{}
	a := get(t, s.router, "/v1/status")
	var out statusAnswer
	a.decode(t, &out)
	if strings.Contains(string(a.body), "SECRET-TOKEN") {
		t.Error("status leaks a channel token")
	}
	if out.Sync.State != "full-sync" || out.Sync.GroupsDone != 120 || out.Queues["directory"].Backlog != 42 || out.Quota["directory"].UsedToday != 1_200_000 || len(out.Channels) != 2 || out.SyncedAt != t0 {
		t.Errorf("status: %s", a.body)
	}
	// A channel past its expiration is not called live, whatever its stored state.
	if out.Channels[0].State != "live" || out.Channels[1].State != "expired" {
		t.Errorf("channel states %q, %q; want live, expired", out.Channels[0].State, out.Channels[1].State)
	}
	// Parts that fail are reported, the rest still answered.
	s.status = fakeStatus{err: errors.New("dispatcher gone")}
	get(t, s.router, "/v1/status").decode(t, &out)
	if len(out.Errors) != 2 || out.Sync.State != "full-sync" {
		t.Errorf("status with a failing source: %+v", out)
	}
}

type fakeStatus struct{ err error }

func (f fakeStatus) QueueStats(context.Context) (map[string]greep.QueueStat, error) {
	return map[string]greep.QueueStat{
		"directory":       {RatePerSecond: 8, Backlog: 42, Dispatched: 9000, Retries: 3},
		"directory-sweep": {RatePerSecond: 30, Backlog: 1500, Dispatched: 30000},
	}, f.err
}

func (f fakeStatus) QuotaUsage(context.Context) (map[string]greep.QuotaUsage, error) {
	return map[string]greep.QuotaUsage{
		"directory":      {UsedToday: 1_200_000, DailyLimit: 5_000_000, ResetAt: t0.Add(10 * time.Hour)},
		"groupssettings": {UsedToday: 20_000, DailyLimit: 100_000, ResetAt: t0.Add(10 * time.Hour)},
	}, f.err
}

func TestAuth(t *testing.T) {
	st := fixture()
	s := newTestServer(t, st, principals{
		"slack": auth.NewPrincipal("slack", []string{auth.ScopeGroups}, []string{"*@eng.example.com"}),
		"all":   auth.NewPrincipal("all", []string{auth.ScopeGroups}, nil),
	})
	// /healthz is open.
	if a := do(t, s.router, "GET", "/healthz"); a.code != 200 {
		t.Errorf("healthz: %d", a.code)
	}
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "Basic c2xhY2s6"}, {"Authorization", "Bearer"}} {
		a := do(t, s.router, "GET", "/v1/groups", hdr...)
		a.googleError(t, 401, "authError")
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: %v", a.header)
		}
	}
	as := func(p string) []string { return []string{"Authorization", "Bearer " + p} }
	// Outside the client's scopes.
	for _, path := range []string{"/v1/status", "/v1/history", "/v1/findings", "/v1/groups/big@example.com/history"} {
		do(t, s.router, "GET", path, as("all")...).googleError(t, 403, "forbidden")
	}
	if a := do(t, s.router, "GET", "/", as("all")...); a.code != 403 || !strings.Contains(string(a.body), "status.read") {
		t.Errorf("dashboard without status.read: %d %s", a.code, a.body)
	}
	// Outside the client's groups.
	do(t, s.router, "GET", "/v1/groups/big@example.com/members", as("slack")...).googleError(t, 403, "forbidden")
	do(t, s.router, "GET", "/admin/directory/v1/groups/big@example.com", as("slack")...).googleError(t, 403, "forbidden")
	if a := do(t, s.router, "GET", "/v1/groups/ops@eng.example.com/members", as("slack")...); a.code != 200 {
		t.Errorf("slack on its own group: %d %s", a.code, a.body)
	}
	// Listings show only the groups the client may see.
	var p v1GroupsPage
	do(t, s.router, "GET", "/v1/groups?maxResults=1000", as("slack")...).decode(t, &p)
	if len(p.Groups) != 1 || p.Groups[0].Email != "ops@eng.example.com" {
		t.Errorf("slack lists %d groups", len(p.Groups))
	}
	var ug struct{ Groups []struct{ Email string } }
	do(t, s.router, "GET", "/v1/users/u0501/groups?transitive=true", as("slack")...).decode(t, &ug)
	if len(ug.Groups) != 1 {
		t.Errorf("slack sees %v", ug.Groups)
	}
}

// principals is an Authenticator whose tokens are the names of principals.
type principals map[string]*auth.Principal

func (ps principals) Authenticate(_ context.Context, tok string) (*auth.Principal, error) {
	if p, ok := ps[tok]; ok {
		return p, nil
	}
	return nil, greep.Errorf(greep.EUNAUTHORIZED, "Invalid Credentials")
}

func TestDirectoryWritesRefused(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	for _, c := range []struct{ method, path string }{
		{"POST", "/admin/directory/v1/groups"},
		{"PUT", "/admin/directory/v1/groups/big@example.com"},
		{"PATCH", "/admin/directory/v1/groups/big@example.com"},
		{"DELETE", "/admin/directory/v1/groups/big@example.com"},
		{"POST", "/admin/directory/v1/groups/big@example.com/members"},
		{"DELETE", "/admin/directory/v1/groups/big@example.com/members/user0001@example.com"},
		{"POST", "/admin/directory/v1/groups/big@example.com/aliases"},
		{"POST", "/admin/directory/v1/users"},
	} {
		a := do(t, s.router, c.method, c.path, "Authorization", "Bearer "+token)
		a.googleError(t, 405, "methodNotAllowed")
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	if _, err := New(Config{Auth: principals{}}); err == nil {
		t.Error("no store accepted")
	}
	if _, err := New(Config{Store: newMemStore()}); err == nil {
		t.Error("no authenticator accepted")
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func allScopes() *auth.Principal { return auth.NewPrincipal("all", auth.AllScopes, nil) }
