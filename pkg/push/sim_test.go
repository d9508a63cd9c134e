package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// TestBurstAgainstSimulator: 1,000 membership changes over 50 groups, made in the
// simulator inside one debounce window and pushed through a real watch channel to the
// webhook on the embedded store, cost one refresh per group: 50 refresh tasks, and once
// the directory worker has run them, 50 groups.get and 50 members.list calls at the
// simulator. The history holds all 1,000 events and the cache shows every new member.
func TestBurstAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 1,000 notifications")
	}
	ctx := context.Background()
	lat := &latencies{}
	e := newSimEnv(t, lat.wrap)
	sim, store, q, clients := e.sim, e.store, e.queue, e.clients
	start := sim.Now()

	truth, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, g := range truth.Groups {
		if len(g.Members) <= 150 && len(groups) < 50 { // one members.list page after the burst
			groups = append(groups, g.Email)
		}
	}
	if len(groups) != 50 {
		t.Fatalf("the tenant has %d small groups, want 50", len(groups))
	}
	var muts []workspacesim.Mutation
	for i := range 1000 {
		muts = append(muts, workspacesim.Mutation{Op: "addMember", Group: groups[i%50], Member: fmt.Sprintf("burst%04d@outside.example", i)})
	}
	if err := sim.Apply(muts); err != nil {
		t.Fatal(err)
	}
	var events []greep.Event
	// Generous: a loaded machine fsyncs slowly (757 of 1,000 in 90 s at load 30).
	_ = wait.Poll(5*time.Minute, func() error { // judged below, with the pushes' figures
		if events = allEvents(t, store); len(events) < 1000 {
			return errors.New("events missing")
		}
		return nil
	})
	if len(events) != 1000 {
		t.Fatalf("history holds %d events, want 1,000 (pushes %+v)", len(events), sim.Stats().Pushes)
	}
	t.Logf("webhook answer time over %d notifications: %s", lat.n(), lat)
	if elapsed := sim.Now().Sub(start); elapsed >= 2*time.Minute {
		t.Fatalf("the burst took %v of simulated time, longer than the debounce window", elapsed)
	}
	refreshes := map[string]int{}
	for _, task := range q.Accepted() {
		if task.Path == tasks.PathDirectoryRefresh {
			var r tasks.Refresh
			if err := json.Unmarshal(task.Body, &r); err != nil {
				t.Fatal(err)
			}
			refreshes[r.Group]++
		}
	}
	if len(refreshes) != 50 {
		t.Errorf("refresh tasks for %d groups, want 50", len(refreshes))
	}
	for g, n := range refreshes {
		if n != 1 {
			t.Errorf("%s: %d refresh tasks, want 1", g, n)
		}
	}

	// The directory worker runs the refreshes once the window has passed.
	dw := directory.New(directory.Config{Store: store, Directory: clients.Directory, Queue: q, Now: sim.Now})
	handler := dw.Handler()
	before := sim.Stats().Calls
	sim.Advance(2*time.Minute + time.Second)
	for {
		task, ok := q.Next(queuetest.DueBy(sim.Now()))
		if !ok {
			break
		}
		if !strings.HasPrefix(task.Path, "/tasks/directory/") {
			continue
		}
		if w := queuetest.Deliver(handler, task); w.Code/100 != 2 {
			t.Fatalf("task %s: status %d (%s)", task.Path, w.Code, w.Body)
		}
	}
	after := sim.Stats().Calls
	for _, method := range []string{"directory.groups.get", "directory.members.list"} {
		if n := after[method] - before[method]; n != 50 {
			t.Errorf("%s: %d calls for the burst, want 50 (one refresh per group)", method, n)
		}
	}
	for i, g := range groups[:5] {
		cached, err := store.Group(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		members, err := store.Members(ctx, cached.ID)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, m := range members {
			have[m.Email] = true
		}
		for j := i; j < 1000; j += 50 {
			if m := fmt.Sprintf("burst%04d@outside.example", j); !have[m] {
				t.Errorf("cache of %s lacks %s after the refresh", g, m)
			}
		}
	}
}

// simEnv is the webhook on the embedded store, behind a real watch channel of the
// simulator's admin application (and of groups, for tests that ask).
type simEnv struct {
	sim     *workspacesim.Sim
	store   *bolt.Store
	queue   *queuetest.Queue
	clients *workspace.Clients
	reports *reports.Worker
}

func newSimEnv(t *testing.T, wrap func(http.Handler) http.Handler, apps ...string) *simEnv {
	t.Helper()
	ctx := context.Background()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 40, Groups: 60, Seed: 7,
		Start: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), QuotaPerMinute: -1, PushRetryBase: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	q := &queuetest.Queue{}
	var h http.Handler = push.New(store, q, push.Config{Debounce: 2 * time.Minute, Now: srv.Sim.Now})
	if wrap != nil {
		h = wrap(h)
	}
	hook := httptest.NewServer(h)
	t.Cleanup(hook.Close)
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := reports.New(store, clients.Reports, q, reports.Config{Address: hook.URL + push.Path, Now: srv.Sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) == 0 {
		apps = []string{"admin"}
	}
	for _, app := range apps {
		if _, err := rw.Renew(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	return &simEnv{sim: srv.Sim, store: store, queue: q, clients: clients, reports: rw}
}

// waitEvents waits (wall time: the simulator pushes from its own goroutines) until the
// history holds n events.
func (e *simEnv) waitEvents(t *testing.T, n int) []greep.Event {
	t.Helper()
	var evs []greep.Event
	// Generous: a loaded machine fsyncs slowly (757 of 1,000 in 90 s at load 30).
	_ = wait.Poll(5*time.Minute, func() error { // the caller judges what arrived
		if evs = allEvents(t, e.store); len(evs) < n {
			return errors.New("events missing")
		}
		return nil
	})
	return evs
}

// TestRedeliveryThroughSimulator: the webhook records a notification but its answer is
// lost (here: replaced by a 503), so the simulator delivers it again, as Google does. The
// history holds the change once and it costs one refresh.
func TestRedeliveryThroughSimulator(t *testing.T) {
	var mu sync.Mutex
	failed := 0
	e := newSimEnv(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			mu.Lock()
			drop := r.Header.Get(push.HeaderResourceState) != push.ResourceStateSync && failed < 2
			if drop {
				failed++
			}
			mu.Unlock()
			if drop {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(rec.Code)
		})
	})
	truth, err := e.sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	group := truth.Groups[0].Email
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "removeMember", Group: group, Member: truth.Groups[0].Members[0].Email}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "three deliveries", func() bool { return e.sim.Stats().Pushes.Delivered >= 2 && e.sim.Stats().Pushes.Retried >= 2 })
	if evs := e.waitEvents(t, 1); len(evs) != 1 || evs[0].Event != "REMOVE_GROUP_MEMBER" {
		t.Errorf("history %+v, want the one removal", evs)
	}
	if n := len(e.queue.Accepted(queuetest.Path(tasks.PathDirectoryRefresh))); n != 1 {
		t.Errorf("%d refresh tasks for one change delivered three times, want 1", n)
	}
}

// TestGroupsApplicationChange: a change made in the Groups UI comes through the groups
// application's channel and refreshes its group; a settings change schedules a settings
// read.
func TestGroupsApplicationChange(t *testing.T) {
	e := newSimEnv(t, nil, "admin", "groups")
	truth, err := e.sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	group := truth.Groups[1].Email
	if err := e.sim.Apply([]workspacesim.Mutation{
		{Op: "addMember", Group: group, Member: "ui-added@outside.example", Application: "groups"},
		{Op: "setSettings", Group: group, Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}},
	}); err != nil {
		t.Fatal(err)
	}
	evs := e.waitEvents(t, 2)
	apps := map[string]bool{}
	for _, ev := range evs {
		apps[ev.Application] = true
	}
	if !apps["groups"] || !apps["admin"] {
		t.Errorf("history %+v, want events of both applications", evs)
	}
	// The webhook records history before it enqueues: wait for the work too.
	waitFor(t, 30*time.Second, "a refresh and a settings read", func() bool {
		return len(e.queue.Accepted(queuetest.Path(tasks.PathDirectoryRefresh))) >= 1 && len(e.queue.Accepted(queuetest.Path(tasks.PathSettingsGet))) >= 1
	})
	if n := len(e.queue.Accepted(queuetest.Path(tasks.PathDirectoryRefresh))); n != 1 {
		t.Errorf("%d refresh tasks, want 1", n)
	}
	if n := len(e.queue.Accepted(queuetest.Path(tasks.PathSettingsGet))); n != 1 {
		t.Errorf("%d settings reads, want 1", n)
	}
}

// latencies records how long the webhook takes to answer (reported, never asserted:
// wall-clock timing in tests is flaky on a shared machine).
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		l.mu.Lock()
		l.d = append(l.d, time.Since(t0))
		l.mu.Unlock()
	})
}

func (l *latencies) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func (l *latencies) String() string {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	if len(d) == 0 {
		return "none"
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[int(p*float64(len(d)-1))] }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", at(0.5), at(0.99), d[len(d)-1])
}

func allEvents(t *testing.T, store *bolt.Store) []greep.Event {
	t.Helper()
	var all []greep.Event
	q := greep.EventQuery{Page: greep.Page{Limit: 1000}}
	for {
		evs, next, err := store.Events(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
		if next == "" {
			return all
		}
		q.Token = next
	}
}
