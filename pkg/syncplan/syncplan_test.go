package syncplan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

func TestNamesAreStableAndDistinct(t *testing.T) {
	if GroupsPageName(3, "tok") != GroupsPageName(3, "tok") {
		t.Fatal("same page, different names: a re-enqueued page would run twice")
	}
	seen := map[string]string{}
	for _, n := range []struct{ what, name string }{
		{"g3", GroupsPageName(3, "")},
		{"g3tok", GroupsPageName(3, "tok")},
		{"g4", GroupsPageName(4, "")},
		{"u3", UsersPageName(3, "")},
		{"m", MembersPageName(SweepRun(3, "id1"), "")},
		{"m2", MembersPageName(SweepRun(3, "id2"), "")},
		{"f3", FinishName(3)},
		{"g3r1", Reissued(GroupsPageName(3, ""), 1)},
		{"g3r2", Reissued(GroupsPageName(3, ""), 2)},
		{"f3r1", Reissued(FinishName(3), 1)},
		{"m-r1", MembersPageName(ReissuedRun(3, "id1", 1), "")},
		{"m-r2", MembersPageName(ReissuedRun(3, "id1", 2), "")},
	} {
		if prev, ok := seen[n.name]; ok {
			t.Errorf("%s and %s share the name %s", prev, n.what, n.name)
		}
		seen[n.name] = n.what
	}
	// A re-issued run stages its pages under its own prefix, not under the lost run's.
	if r := ReissuedRun(3, "id1", 1); strings.HasPrefix(r, SweepRun(3, "id1")+"/") || !strings.HasPrefix(r, SweepRun(3, "")) {
		t.Errorf("re-issued run %q: shares the lost run's staging, or escapes the sweep's prefix", r)
	}
}

func TestFullSyncCalls(t *testing.T) {
	var groups []greep.Group
	for i, n := range []int64{0, 0, 1, 200, 201, 450} {
		groups = append(groups, greep.Group{ID: fmt.Sprint(i), DirectMembersCount: n})
	}
	got := FullSyncCalls(groups, 1001)
	want := map[string]int64{
		"directory.groups.list":  1,
		"directory.members.list": 0 + 0 + 1 + 1 + 2 + 3,
		"directory.users.list":   3,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if c := FullSyncCalls(nil, 0)["directory.groups.list"]; c != 1 {
		t.Errorf("empty tenant lists groups %d times, want 1", c)
	}
}

func TestResyncSelect(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	r := Resync{Every: time.Hour, MaxAge: 10 * time.Hour}
	synced := func(ago time.Duration) time.Time { return now.Add(-ago) }

	var listed []greep.Group
	cached := map[string]greep.Group{}
	// 20 unchanged groups read 0 to 6h20m ago.
	for i := 0; i < 20; i++ {
		g := greep.Group{ID: fmt.Sprintf("u%02d", i), ETag: "e", DirectMembersCount: 3}
		listed = append(listed, g)
		c := g
		c.MembersETag = "e"
		c.MembersSyncedAt = synced(time.Duration(i) * 20 * time.Minute) // 0 .. 6h20m
		cached[g.ID] = c
	}
	listed = append(listed,
		greep.Group{ID: "new", ETag: "e", DirectMembersCount: 1},
		greep.Group{ID: "etag", ETag: "e2", DirectMembersCount: 3},
		greep.Group{ID: "count", ETag: "e", DirectMembersCount: 4},
		greep.Group{ID: "due", ETag: "e", DirectMembersCount: 3},
	)
	cached["etag"] = greep.Group{ID: "etag", ETag: "e", MembersETag: "e", DirectMembersCount: 3, MembersSyncedAt: synced(time.Minute)}
	cached["count"] = greep.Group{ID: "count", ETag: "e", MembersETag: "e", DirectMembersCount: 3, MembersSyncedAt: synced(time.Minute)}
	cached["due"] = greep.Group{ID: "due", ETag: "e", MembersETag: "e", DirectMembersCount: 3, MembersSyncedAt: synced(9*time.Hour + time.Minute)}

	sel := r.Select(listed, cached, now)
	reasons := map[string]string{}
	for _, s := range sel {
		reasons[s.Group.ID] = s.Reason
	}
	for id, want := range map[string]string{"new": ReasonNew, "etag": ReasonChanged, "count": ReasonChanged, "due": ReasonDue} {
		if reasons[id] != want {
			t.Errorf("%s: reason %q, want %q", id, reasons[id], want)
		}
	}
	// 24 groups, Every/MaxAge = 1/10: ceil(2.4) = 3 a resync, one of them taken by "due".
	var slice []string
	for _, s := range sel {
		if s.Reason == ReasonSlice {
			slice = append(slice, s.Group.ID)
		}
	}
	if fmt.Sprint(slice) != "[u19 u18]" {
		t.Errorf("rolling slice = %v, want the two oldest [u19 u18]", slice)
	}
	if len(sel) != 6 {
		t.Errorf("selected %d groups, want 6: %+v", len(sel), sel)
	}
}

func TestResyncSliceBoundsAge(t *testing.T) {
	// A tenant synced all at once must, resync after resync, keep every group younger than
	// MaxAge, re-reading about n × Every / MaxAge groups each time.
	r := Resync{Every: time.Hour, MaxAge: 6 * time.Hour}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 200
	cached := map[string]greep.Group{}
	var listed []greep.Group
	for i := 0; i < n; i++ {
		g := greep.Group{ID: fmt.Sprintf("g%03d", i), ETag: "e", DirectMembersCount: 1}
		listed = append(listed, g)
		g.MembersETag, g.MembersSyncedAt = "e", start
		cached[g.ID] = g
	}
	for k := 1; k <= 48; k++ {
		now := start.Add(time.Duration(k) * r.Every)
		sel := r.Select(listed, cached, now)
		// ceil(200 × 1h / 6h) = 34: the slice, never the whole tenant at once.
		if len(sel) > 34 {
			t.Fatalf("resync %d re-read %d of %d groups, want at most 34", k, len(sel), n)
		}
		for _, s := range sel {
			c := cached[s.Group.ID]
			c.MembersSyncedAt = now
			cached[s.Group.ID] = c
		}
		for id, c := range cached {
			if age := now.Sub(c.MembersSyncedAt); age > r.MaxAge {
				t.Fatalf("resync %d: %s is %v old, over %v", k, id, age, r.MaxAge)
			}
		}
	}
}

func TestResyncWithoutMaxAgeReadsOnlyChanges(t *testing.T) {
	r := Resync{Every: time.Hour}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	g := greep.Group{ID: "a", ETag: "e", DirectMembersCount: 1}
	c := g
	c.MembersETag, c.MembersSyncedAt = "e", old
	if sel := r.Select([]greep.Group{g}, map[string]greep.Group{"a": c}, old.Add(1000*time.Hour)); len(sel) != 0 {
		t.Errorf("selected %+v", sel)
	}
}

func TestProgress(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Progress{Done: 100, Total: 400, Calls: 150, Started: t0, Now: t0.Add(10 * time.Second)}
	if _, ok := p.ETA(); ok {
		t.Error("ETA told while the listing still grows the total")
	}
	p.ListingDone = true
	if eta, ok := p.ETA(); !ok || eta != 30*time.Second {
		t.Errorf("ETA = %v, %v; want 30s", eta, ok)
	}
	if p.Rate() != 10 || p.CallRate() != 15 || p.Fraction() != 0.25 || p.Finished() {
		t.Errorf("rate %v callRate %v fraction %v finished %v", p.Rate(), p.CallRate(), p.Fraction(), p.Finished())
	}
	p.Done = 400
	if !p.Finished() {
		t.Error("not finished with every group done")
	}
	if (Progress{}).Rate() != 0 || (Progress{Done: 1, Total: 0}).Fraction() != 0 {
		t.Error("empty progress divides by zero")
	}
}

func gerr(code int, reason string) error {
	return &googleapi.Error{Code: code, Errors: []googleapi.ErrorItem{{Reason: reason}}}
}

type refusal struct{ at time.Time }

func (r refusal) Error() string      { return "budget spent" }
func (r refusal) ResetAt() time.Time { return r.at }

func TestClassify(t *testing.T) {
	now := time.Date(2026, 3, 5, 20, 0, 0, 0, time.UTC) // 12:00 PST
	// The quota calendar is the guard's (pkg/quota); here, midnight PST.
	pst := time.FixedZone("PST", -8*3600)
	reset := func(t time.Time) time.Time {
		y, m, d := t.In(pst).Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, pst)
	}
	later := now.Add(5 * time.Hour)
	cases := []struct {
		name   string
		err    error
		action Action
		status int
	}{
		{"userRateLimitExceeded", gerr(403, "userRateLimitExceeded"), Retry, 429},
		{"429", gerr(429, ""), Retry, 429},
		{"quotaExceeded", gerr(403, "quotaExceeded"), Retry, 429},
		{"500", gerr(500, ""), Retry, 503},
		{"503", gerr(503, "backendError"), Retry, 503},
		{"timeout", fmt.Errorf("get: %w", context.DeadlineExceeded), Retry, 503},
		{"url timeout", &url.Error{Op: "Get", URL: "x", Err: timeoutErr{}}, Retry, 503},
		{"connection refused", errors.New("dial tcp: connection refused"), Retry, 503},
		{"dailyLimitExceeded", gerr(403, "dailyLimitExceeded"), Reschedule, 0},
		{"budget guard", &url.Error{Op: "Get", URL: "x", Err: refusal{later}}, Reschedule, 0},
		{"404", gerr(404, "notFound"), Gone, 0},
		{"400", gerr(400, "invalid"), Fail, 0},
		{"403 forbidden", gerr(403, "forbidden"), Fail, 0},
		{"401", gerr(401, "authError"), Fail, 0},
	}
	for _, c := range cases {
		v := Classify(c.err, now, reset)
		if v.Action != c.action || v.Status != c.status {
			t.Errorf("%s: %v/%d, want %v/%d", c.name, v.Action, v.Status, c.action, c.status)
		}
	}
	if v := Classify(gerr(403, "dailyLimitExceeded"), now, reset); !v.ResetAt.Equal(time.Date(2026, 3, 6, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("daily limit resets at %v, want midnight Pacific (08:00 UTC)", v.ResetAt)
	}
	if v := Classify(&url.Error{Err: refusal{later}}, now, reset); !v.ResetAt.Equal(later) {
		t.Errorf("budget refusal resets at %v, want the guard's %v", v.ResetAt, later)
	}
	_ = http.StatusOK
	c := Classifier{NextReset: reset, Refused: func(err error) (time.Time, bool) {
		var r *otherRefusal
		if errors.As(err, &r) {
			return r.at, true
		}
		return time.Time{}, false
	}}
	if v := c.Classify(&url.Error{Err: &otherRefusal{later}}, now); v.Action != Reschedule || !v.ResetAt.Equal(later) {
		t.Errorf("refusal recognised by Refused: %+v", v)
	}
	if v := c.Classify(gerr(500, ""), now); v.Action != Retry {
		t.Errorf("Classifier falls back to Classify: %+v", v)
	}
}

type otherRefusal struct{ at time.Time }

func (r *otherRefusal) Error() string { return "spent" }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestUnmet(t *testing.T) {
	members := []greep.Member{
		{ID: "1", Email: "Ann@x.test", Role: "OWNER"},
		{ID: "2", Email: "bob@x.test", Role: "MEMBER"},
	}
	cases := []struct {
		e     tasks.Expectation
		unmet bool
	}{
		{tasks.Expectation{Member: "ann@x.test", Present: true}, false},
		{tasks.Expectation{Member: "2", Present: true}, false},
		{tasks.Expectation{Member: "cat@x.test", Present: true}, true},
		{tasks.Expectation{Member: "bob@x.test", Present: false}, true},
		{tasks.Expectation{Member: "cat@x.test", Present: false}, false},
		{tasks.Expectation{Member: "bob@x.test", Present: true, Role: "manager"}, true},
		{tasks.Expectation{Member: "ann@x.test", Present: true, Role: "owner"}, false},
	}
	for _, c := range cases {
		if got := len(Unmet([]tasks.Expectation{c.e}, members)) == 1; got != c.unmet {
			t.Errorf("%+v: unmet = %v, want %v", c.e, got, c.unmet)
		}
	}
}

func TestRepoll(t *testing.T) {
	r := Repoll{Base: time.Second, Max: 5 * time.Second, Attempts: 5}
	var got []time.Duration
	for a := 0; ; a++ {
		d, ok := r.Next(a)
		if !ok {
			break
		}
		got = append(got, d)
	}
	if fmt.Sprint(got) != "[1s 2s 4s 5s 5s]" {
		t.Errorf("delays %v", got)
	}
}
