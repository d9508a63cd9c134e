package workspacesim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	reports "google.golang.org/api/admin/reports/v1"

	"github.com/greephq/greep/pkg/workspacesim"
)

type delivery struct {
	header http.Header
	body   []byte
}

// webhook records every notification; it answers 503 to the first failFirst event
// notifications, to make the simulator retry.
type webhook struct {
	mu        sync.Mutex
	got       []delivery
	failFirst int
	arrived   chan struct{}
}

func newWebhook(t *testing.T, failFirst int) (*webhook, string) {
	h := &webhook{failFirst: failFirst, arrived: make(chan struct{}, 100)}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/push"
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	if r.Header.Get("X-Goog-Resource-State") != "sync" && h.failFirst > 0 {
		h.failFirst--
		h.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.got = append(h.got, delivery{header: r.Header.Clone(), body: body})
	h.mu.Unlock()
	h.arrived <- struct{}{}
}

// next waits for the next recorded delivery (a generous bound: a hang is the failure).
func (h *webhook) next(t *testing.T, i int) delivery {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(20 * time.Second):
		t.Fatalf("notification %d never arrived", i)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[i]
}

func TestMutationArrivesAtWebhook(t *testing.T) {
	hook, address := newWebhook(t, 1)
	srv, cl := start(t, workspacesim.Config{Users: 20, Groups: 20, Seed: 6, PushRetryBase: time.Millisecond})
	g := truth(t, srv, "").Groups[0]

	ch, err := cl.Reports.Activities.Watch("all", "admin", &reports.Channel{
		Id: "chan-1", Type: "web_hook", Address: address, Token: "secret-token",
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if ch.ResourceId == "" || ch.Expiration == 0 {
		t.Fatalf("watch answer %+v", ch)
	}
	if life := time.UnixMilli(ch.Expiration).Sub(srv.Sim.Now()); life > 6*time.Hour || life < 5*time.Hour {
		t.Fatalf("channel lives %v, want 6h", life)
	}

	sync := hook.next(t, 0)
	if s := sync.header.Get("X-Goog-Resource-State"); s != "sync" || sync.header.Get("X-Goog-Message-Number") != "1" {
		t.Fatalf("first message: state %s number %s", s, sync.header.Get("X-Goog-Message-Number"))
	}

	member := "pushed@outside.example"
	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: member, Actor: "bob@" + srv.Sim.Domain()}}); err != nil {
		t.Fatal(err)
	}
	d := hook.next(t, 1) // after one 503 and a retry
	h := d.header
	for name, want := range map[string]string{
		"X-Goog-Channel-Id":     "chan-1",
		"X-Goog-Channel-Token":  "secret-token",
		"X-Goog-Resource-Id":    ch.ResourceId,
		"X-Goog-Resource-State": "ADD_GROUP_MEMBER",
	} {
		if got := h.Get(name); got != want {
			t.Fatalf("header %s = %q, want %q", name, got, want)
		}
	}
	if n, _ := strconv.Atoi(h.Get("X-Goog-Message-Number")); n <= 1 {
		t.Fatalf("message number %q after the sync", h.Get("X-Goog-Message-Number"))
	}
	if exp, err := http.ParseTime(h.Get("X-Goog-Channel-Expiration")); err != nil || exp.Unix() != time.UnixMilli(ch.Expiration).Unix() {
		t.Fatalf("expiration header %q: %v", h.Get("X-Goog-Channel-Expiration"), err)
	}
	if h.Get("X-Goog-Resource-Uri") == "" {
		t.Fatal("no X-Goog-Resource-URI")
	}
	var a reports.Activity
	if err := json.Unmarshal(d.body, &a); err != nil {
		t.Fatalf("body %s: %v", d.body, err)
	}
	p := params(a.Events[0].Parameters)
	if a.Kind != "admin#reports#activity" || a.Id.ApplicationName != "admin" || a.Id.UniqueQualifier == 0 ||
		a.Actor.Email != "bob@"+srv.Sim.Domain() || a.Events[0].Name != "ADD_GROUP_MEMBER" ||
		p["GROUP_EMAIL"] != g.Email || p["USER_EMAIL"] != member {
		t.Fatalf("activity %s", d.body)
	}
	if st := srv.Sim.Stats(); st.Pushes.Retried != 1 || st.Pushes.Delivered < 1 || st.Channels != 1 {
		t.Fatalf("push stats %+v", st)
	}

	// The same activity is listed, with the same unique qualifier.
	list, err := cl.Reports.Activities.List("all", "admin").Filters("GROUP_EMAIL==" + g.Email).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Id.UniqueQualifier != a.Id.UniqueQualifier {
		t.Fatalf("listed %d activities", len(list.Items))
	}

	// Stopped channels receive nothing more; stopping twice is 404.
	if err := cl.Reports.Channels.Stop(&reports.Channel{Id: "chan-1", ResourceId: ch.ResourceId}).Do(); err != nil {
		t.Fatal(err)
	}
	err = cl.Reports.Channels.Stop(&reports.Channel{Id: "chan-1", ResourceId: ch.ResourceId}).Do()
	apiErr(t, err, 404, "notFound")
	if st := srv.Sim.Stats(); st.Channels != 0 {
		t.Fatalf("%d live channels after stop", st.Channels)
	}
}

func TestChannelsExpireOnTheSimulatedClock(t *testing.T) {
	_, address := newWebhook(t, 0)
	srv, cl := start(t, workspacesim.Config{Users: 5, Groups: 5})
	exp := srv.Sim.Now().Add(time.Hour)
	if _, err := cl.Reports.Activities.Watch("all", "admin", &reports.Channel{
		Id: "short", Type: "web_hook", Address: address, Expiration: exp.UnixMilli(),
	}).Do(); err != nil {
		t.Fatal(err)
	}
	// Asking for more than 6 hours gets 6 hours.
	long, err := cl.Reports.Activities.Watch("all", "groups", &reports.Channel{
		Id: "long", Type: "web_hook", Address: address, Expiration: srv.Sim.Now().Add(48 * time.Hour).UnixMilli(),
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if life := time.UnixMilli(long.Expiration).Sub(srv.Sim.Now()); life > 6*time.Hour {
		t.Fatalf("channel granted %v", life)
	}
	if st := srv.Sim.Stats(); st.Channels != 2 {
		t.Fatalf("%d live channels", st.Channels)
	}
	srv.Sim.Advance(2 * time.Hour)
	if st := srv.Sim.Stats(); st.Channels != 1 {
		t.Fatalf("%d live channels after the first expired", st.Channels)
	}
	// A reused id of a dead channel is fine; of a live one it is not.
	if _, err := cl.Reports.Activities.Watch("all", "admin", &reports.Channel{Id: "short", Type: "web_hook", Address: address}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = cl.Reports.Activities.Watch("all", "admin", &reports.Channel{Id: "long", Type: "web_hook", Address: address}).Do()
	apiErr(t, err, 400, "channelIdNotUnique")
	_, err = cl.Reports.Activities.Watch("all", "admin", &reports.Channel{Id: "x", Type: "web_hook", Address: "http://example.org/push"}).Do()
	apiErr(t, err, 400, "invalid")
}

func TestActivitiesForEveryMutation(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10, Seed: 3})
	d := srv.Sim.Domain()
	grp := "made@" + d
	if err := srv.Sim.Apply([]workspacesim.Mutation{
		{Op: "createGroup", Group: grp, Name: "Made"},
		{Op: "addMember", Group: grp, Member: srv.Sim.Sentinel()},
		{Op: "updateMember", Group: grp, Member: srv.Sim.Sentinel(), Role: "OWNER"},
		{Op: "setSettings", Group: grp, Settings: map[string]string{"whoCanViewGroup": "ALL_IN_DOMAIN_CAN_VIEW"}},
		{Op: "removeMember", Group: grp, Member: srv.Sim.Sentinel()},
		{Op: "deleteGroup", Group: grp},
		{Op: "addMember", Group: "nope@" + d, Member: srv.Sim.Sentinel()}, // fails: the rest stays applied
	}); err == nil {
		t.Fatal("a mutation of a missing group was accepted")
	}
	var names []string
	seen := map[int64]bool{}
	if err := cl.Reports.Activities.List("all", "admin").MaxResults(2).Pages(t.Context(), func(p *reports.Activities) error {
		for _, a := range p.Items {
			names = append(names, a.Events[0].Name)
			if seen[a.Id.UniqueQualifier] {
				t.Fatalf("unique qualifier %d twice", a.Id.UniqueQualifier)
			}
			seen[a.Id.UniqueQualifier] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"DELETE_GROUP", "REMOVE_GROUP_MEMBER", "CHANGE_GROUP_SETTING", "UPDATE_GROUP_MEMBER", "ADD_GROUP_MEMBER", "CREATE_GROUP"}
	if len(names) != len(want) {
		t.Fatalf("activities %v, want %v (newest first)", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("activities %v, want %v (newest first)", names, want)
		}
	}
	if _, err := srv.Sim.Truth(grp); err == nil {
		t.Fatal("deleted group still in the truth")
	}
	// Filters by actor and by time.
	none, err := cl.Reports.Activities.List("someone@"+d, "admin").Do()
	if err != nil || len(none.Items) != 0 {
		t.Fatalf("actor filter: %v %v", none, err)
	}
	later, err := cl.Reports.Activities.List("all", "admin").StartTime(srv.Sim.Now().Add(time.Minute).Format(time.RFC3339)).Do()
	if err != nil || len(later.Items) != 0 {
		t.Fatalf("startTime filter: %v %v", later, err)
	}
}

func TestDropRateLosesEventsNotSync(t *testing.T) {
	hook, address := newWebhook(t, 0)
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10, DropRate: 1})
	if _, err := cl.Reports.Activities.Watch("all", "admin", &reports.Channel{Id: "lossy", Type: "web_hook", Address: address}).Do(); err != nil {
		t.Fatal(err)
	}
	if s := hook.next(t, 0).header.Get("X-Goog-Resource-State"); s != "sync" {
		t.Fatalf("first message %s", s)
	}
	g := truth(t, srv, "").Groups[0]
	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "lost@outside.example"}}); err != nil {
		t.Fatal(err)
	}
	if st := srv.Sim.Stats(); st.Pushes.Dropped != 1 {
		t.Fatalf("push stats %+v", st.Pushes)
	}
	// The activity is still listed: only the notification was lost.
	list, err := cl.Reports.Activities.List("all", "admin").Do()
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
}

func TestActivitiesLagAndApplications(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10, Seed: 2, ReadLag: 30 * time.Second})
	g := truth(t, srv, "").Groups[0]
	if err := srv.Sim.Apply([]workspacesim.Mutation{
		{Op: "addMember", Group: g.Email, Member: "ui@outside.example", Application: "groups"},
		{Op: "removeMember", Group: g.Email, Member: "ui@outside.example"},
	}); err != nil {
		t.Fatal(err)
	}
	count := func(app string) int {
		a, err := cl.Reports.Activities.List("all", app).Do()
		if err != nil {
			t.Fatal(err)
		}
		return len(a.Items)
	}
	if n := count("admin") + count("groups"); n != 0 {
		t.Fatalf("%d activities visible before the read lag passed", n)
	}
	srv.Sim.Advance(time.Minute)
	if count("admin") != 1 || count("groups") != 1 {
		t.Fatalf("admin %d, groups %d activities, want one each", count("admin"), count("groups"))
	}
	_, err := cl.Reports.Activities.List("all", "nonsense").Do()
	apiErr(t, err, 400, "invalid")
	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "x@y.example", Application: "drive"}}); err == nil {
		t.Fatal("a mutation logged under drive was accepted")
	}
}
