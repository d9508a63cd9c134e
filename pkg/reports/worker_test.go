package reports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

var start = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

type env struct {
	sim    *workspacesim.Sim
	store  *bolt.Store
	queue  *queuetest.Queue
	worker *reports.Worker
	tasks  http.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 10, Groups: 3, Seed: 1, Start: start, QuotaPerMinute: -1})
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
	hook := httptest.NewServer(push.New(store, q, push.Config{Now: srv.Sim.Now}))
	t.Cleanup(hook.Close)
	clients, err := workspace.New(context.Background(), workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := reports.New(store, clients.Reports, q, reports.Config{Address: hook.URL + push.Path, Now: srv.Sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: srv.Sim, store: store, queue: q, worker: w, tasks: w.Handler(false)}
}

// runTasks runs the worker's due tasks through its HTTP handler, as the dispatcher would.
func (e *env) runTasks(t *testing.T) {
	t.Helper()
	for _, path := range []string{tasks.PathReportsRenew, reports.PathStop} {
		for _, task := range e.queue.Take(queuetest.Path(path), queuetest.DueBy(e.sim.Now())) {
			if w := queuetest.Deliver(e.tasks, task); w.Code/100 != 2 {
				t.Fatalf("task %s %s: status %d (%s)", task.Path, task.Body, w.Code, w.Body)
			}
		}
	}
}

func (e *env) channels(t *testing.T) []greep.Channel {
	t.Helper()
	var chs []greep.Channel
	if _, err := greep.LoadState(context.Background(), e.store, greep.StateChannels, &chs); err != nil {
		t.Fatal(err)
	}
	return chs
}

// events returns the change history of group.
func (e *env) events(t *testing.T, group string) []greep.Event {
	t.Helper()
	var all []greep.Event
	q := greep.EventQuery{Group: group, Page: greep.Page{Limit: 500}}
	for {
		evs, next, err := e.store.Events(context.Background(), q)
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

// waitEvents waits (wall clock: pushes are delivered by the simulator's goroutines) until
// group's history holds n events.
func (e *env) waitEvents(t *testing.T, group string, n int) []greep.Event {
	t.Helper()
	var evs []greep.Event
	_ = wait.Poll(30*time.Second, func() error { // the caller judges what arrived
		if evs = e.events(t, group); len(evs) < n {
			return errors.New("fewer events")
		}
		return nil
	})
	return evs
}

// waitPushes waits until the simulator has no push notification left to send.
func (e *env) waitPushes(t *testing.T) {
	t.Helper()
	wait.Until(t, 30*time.Second, func() error {
		if p := e.sim.Stats().Pushes; p.Queued != 0 {
			return fmt.Errorf("pushes still queued: %+v", p)
		}
		return nil
	})
}

// TestSimulatedDayAgainstSimulator keeps channels for a simulated day against the
// simulator, whose channels expire after 6 hours, making a membership change every 7
// minutes: every change reaches the webhook and lands in the history once, the simulator
// stops every replaced channel, and at the end one channel per application is live.
func TestSimulatedDayAgainstSimulator(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const group = "push-day@example.com"
	muts := 0
	tick := func() {
		t.Helper()
		if err := e.worker.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		e.runTasks(t)
	}
	tick()
	// Changes fall between ticks, 7 minutes apart (not a divisor of the lifetime), so a
	// channel that expired before its successor existed would lose the change.
	for step := 0; e.sim.Now().Before(start.Add(24 * time.Hour)); step++ {
		if step > 0 {
			e.sim.Advance(7 * time.Minute)
		}
		m := workspacesim.Mutation{Op: "addMember", Group: group, Member: fmt.Sprintf("guest%03d@outside.example", step)}
		if step == 0 {
			m = workspacesim.Mutation{Op: "createGroup", Group: group}
		}
		if err := e.sim.Apply([]workspacesim.Mutation{m}); err != nil {
			t.Fatal(err)
		}
		muts++
		if got := e.waitEvents(t, group, muts); len(got) != muts {
			t.Fatalf("%v into the day: history holds %d of the %d changes (channels %+v)",
				e.sim.Now().Sub(start), len(got), muts, e.channels(t))
		}
		tick()
	}
	// Every notification was queued by the time its change was applied: once none is
	// left, any duplicate through an overlapping channel has landed.
	e.waitPushes(t)
	evs := e.events(t, group)
	if len(evs) != muts {
		t.Errorf("history holds %d events for %d changes", len(evs), muts)
	}
	members := map[string]bool{}
	for _, ev := range evs {
		if ev.Event == "ADD_GROUP_MEMBER" {
			members[ev.Member] = true
		}
	}
	if len(members) != muts-1 {
		t.Errorf("history shows %d distinct added members, want %d", len(members), muts-1)
	}

	st := e.sim.Stats()
	watches, stops := st.Calls["reports.activities.watch"], st.Calls["reports.channels.stop"]
	// Two applications, a channel at the start and one per 4.8 hours.
	if watches != 10 || stops != watches-2 {
		t.Errorf("simulator saw %d watch and %d stop calls, want 10 and 8", watches, stops)
	}
	if st.Channels != 2 {
		t.Errorf("simulator has %d live channels, want 2 (one per application)", st.Channels)
	}
	live := map[string]int{}
	for _, ch := range e.channels(t) {
		if reports.Live(ch, e.sim.Now()) {
			live[ch.Application]++
		}
		if ch.Token == "" || ch.ResourceID == "" && ch.State == reports.StateLive {
			t.Errorf("stored channel %s lacks its token or resource id", ch.ID)
		}
	}
	if live["admin"] != 1 || live["groups"] != 1 {
		t.Errorf("live channels per application %v, want one each", live)
	}
}

// TestRenewIsIdempotent runs the same renew task twice: the second finds the channel
// created and makes no call.
func TestRenewIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.worker.Renew(ctx, "admin")
	if err != nil || first.ID == "" || first.State != reports.StateLive {
		t.Fatalf("Renew = %+v, %v", first, err)
	}
	again, err := e.worker.Renew(ctx, "admin")
	if err != nil || again.ID != "" {
		t.Fatalf("second Renew = %+v, %v; want no new channel", again, err)
	}
	if n := e.sim.Stats().Calls["reports.activities.watch"]; n != 1 {
		t.Errorf("%d watch calls, want 1", n)
	}
	if _, err := e.worker.Renew(ctx, "drive"); err == nil {
		t.Errorf("Renew of an application not watched succeeded")
	}
}

// TestStopSparesTheNewest: a stop task for an application's only live channel does
// nothing; a stop of a channel already gone at Google still marks it stopped.
func TestStopSparesTheNewest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ch, err := e.worker.Renew(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.worker.Stop(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Stats().Calls["reports.channels.stop"]; n != 0 {
		t.Errorf("the only live channel was stopped (%d calls)", n)
	}
	e.sim.Advance(5 * time.Hour)
	next, err := e.worker.Renew(ctx, "admin")
	if err != nil || next.ID == "" {
		t.Fatalf("renewal at 5 h: %+v, %v", next, err)
	}
	if err := e.worker.Stop(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.worker.Stop(ctx, ch.ID); err != nil { // a retried stop task
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, c := range e.channels(t) {
		states[c.ID] = c.State
	}
	if states[ch.ID] != reports.StateStopped || states[next.ID] != reports.StateLive {
		t.Errorf("states after the stop: %v", states)
	}
	if n := e.sim.Stats().Calls["reports.channels.stop"]; n != 1 {
		t.Errorf("%d stop calls, want 1", n)
	}
}

func TestTaskEndpointsRefuseOutsiders(t *testing.T) {
	e := newEnv(t)
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodPost, tasks.PathReportsRenew, bytes.NewReader([]byte(`{"application":"admin"}`))),
		httptest.NewRequest(http.MethodPost, reports.PathStop, bytes.NewReader([]byte(`{"id":"x"}`))),
		httptest.NewRequest(http.MethodGet, reports.PathCron, nil),
	} {
		w := httptest.NewRecorder()
		e.tasks.ServeHTTP(w, r)
		var ge struct {
			Error struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if w.Code != http.StatusForbidden || json.Unmarshal(w.Body.Bytes(), &ge) != nil || ge.Error.Code != 403 {
			t.Errorf("%s %s from outside: %d %s", r.Method, r.URL.Path, w.Code, w.Body)
		}
	}
	if n := e.sim.Stats().Calls["reports.activities.watch"]; n != 0 {
		t.Errorf("an outside request made %d watch calls", n)
	}
}

func TestMalformedTasks(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ path, body string }{
		{tasks.PathReportsRenew, `{"application":`},
		{tasks.PathReportsRenew, `{"application":"admin","extra":1}`},
		{tasks.PathReportsRenew, `{"application":"drive"}`},
		{reports.PathStop, `{}`},
	} {
		w := queuetest.Deliver(e.tasks, queue.Task{Queue: tasks.QueueReports, Path: c.path, Body: []byte(c.body)})
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s %s: status %d, want 400 (%s)", c.path, c.body, w.Code, w.Body)
		}
	}
	if len(e.channels(t)) != 0 {
		t.Errorf("malformed tasks stored channels")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []reports.Config{
		{Address: ""},
		{Address: "ftp://example.com/push/notify"},
		{Address: "https://example.com/push/notify", Policy: reports.Policy{Lifetime: 7 * time.Hour}},
	} {
		if _, err := reports.New(nil, nil, nil, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestRunKeepsChannels runs the local timer on a clock the test moves: it creates the
// channels at once and renews them when the clock passes the renewal time.
func TestRunKeepsChannels(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	fire := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.worker.Run(ctx, 10*time.Minute, func(time.Duration) <-chan time.Time { return fire })
	}()
	renewTasks := func() int { return len(e.queue.Pending(queuetest.Path(tasks.PathReportsRenew))) }
	fire <- time.Time{} // Run is waiting: its first tick has run
	if n := renewTasks(); n != 2 {
		t.Fatalf("first tick enqueued %d renew tasks, want 2", n)
	}
	e.runTasks(t)
	fire <- time.Time{} // early wake-up: not due, nothing to do
	e.sim.Advance(5 * time.Hour)
	fire <- time.Time{}
	fire <- time.Time{} // the tick after the advance has run
	if n := renewTasks(); n != 2 {
		t.Errorf("after the renewal time, %d renew tasks queued, want 2", n)
	}
	cancel()
	<-done
}

// TestWatchFailure: a failed watch call leaves the channel recorded as failed (its
// notifications refused) and the task failing, so the queue retries; the retry creates a
// working channel.
func TestWatchFailure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.sim.SetFaults(workspacesim.Faults{InternalError: 1}); err != nil {
		t.Fatal(err)
	}
	if ch, err := e.worker.Renew(ctx, "admin"); err == nil {
		t.Fatalf("Renew against a failing API = %+v, want an error", ch)
	}
	chs := e.channels(t)
	if len(chs) != 1 || chs[0].State != reports.StateFailed {
		t.Fatalf("channels after the failure: %+v", chs)
	}
	if err := e.sim.SetFaults(workspacesim.Faults{}); err != nil {
		t.Fatal(err)
	}
	ch, err := e.worker.Renew(ctx, "admin")
	if err != nil || ch.State != reports.StateLive {
		t.Fatalf("retried Renew = %+v, %v", ch, err)
	}
	if n := len(e.channels(t)); n != 2 {
		t.Errorf("%d channels stored, want the failed one and the live one", n)
	}
}

// TestRenewSettlesGoogleErrors: a renew task whose watch call Google refuses tells the
// queue what happens next: after the quota reset for a spent daily limit (a copy
// scheduled then, the run answered 2xx), with the queue's backoff for a rate limit, and
// never again for a refusal no retry can fix.
func TestRenewSettlesGoogleErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		reason string
		want   int
		later  bool
	}{
		{"daily limit", http.StatusForbidden, "dailyLimitExceeded", http.StatusNoContent, true},
		{"rate limit", http.StatusTooManyRequests, "rateLimitExceeded", http.StatusTooManyRequests, false},
		{"refused", http.StatusForbidden, "forbidden", http.StatusNoContent, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			google := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				googleerror.Write(w, c.status, c.reason, "refused by the test")
			}))
			defer google.Close()
			store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			clients, err := workspace.New(context.Background(), workspace.Config{Endpoint: google.URL, AdminSubject: "admin@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			q := &queuetest.Queue{}
			now := func() time.Time { return start }
			w, err := reports.New(store, clients.Reports, q, reports.Config{Address: "https://greep.example.com/push/notify", Now: now, Quota: quota.Calendar{Zone: time.UTC}})
			if err != nil {
				t.Fatal(err)
			}
			task := queue.Task{Queue: tasks.QueueReports, Name: "renew-admin", Path: tasks.PathReportsRenew, Body: []byte(`{"application":"admin"}`)}
			if rec := queuetest.Deliver(w.Handler(false), task); rec.Code != c.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, c.want, rec.Body)
			}
			copies := q.Accepted(queuetest.Path(tasks.PathReportsRenew))
			switch {
			case c.later && (len(copies) != 1 || !copies[0].ScheduleTime.Equal(start.Add(24*time.Hour))):
				t.Errorf("copies %+v: want one at the quota reset %v", copies, start.Add(24*time.Hour))
			case !c.later && len(copies) != 0:
				t.Errorf("copies %+v: want none", copies)
			}
		})
	}
}
