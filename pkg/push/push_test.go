package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/tasks"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var liveChannel = greep.Channel{
	ID:          "greep-admin-1",
	Application: "admin",
	ResourceID:  "res-admin",
	Token:       "s3cret-token-0123456789",
	Expiration:  t0.Add(6 * time.Hour),
	CreatedAt:   t0,
	State:       "live",
}

// activityBody is one activity as the Reports API pushes it.
func activityBody(uq int, name, group, member string) string {
	return fmt.Sprintf(`{"kind":"admin#reports#activity",
	 "id":{"time":%q,"uniqueQualifier":"%d","applicationName":"admin","customerId":"C1"},
	 "actor":{"callerType":"USER","email":"admin@example.com"},
	 "events":[{"type":"GROUP_SETTINGS","name":%q,"parameters":[
	   {"name":"GROUP_EMAIL","value":%q},{"name":"USER_EMAIL","value":%q}]}]}`,
		t0.Add(time.Duration(uq)*time.Millisecond).Format(time.RFC3339Nano), uq, name, group, member)
}

// notification is a request as Google sends it on ch.
func notification(ch greep.Channel, state, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(body))
	r.Header.Set(HeaderChannelID, ch.ID)
	r.Header.Set(HeaderChannelToken, ch.Token)
	r.Header.Set(HeaderResourceState, state)
	r.Header.Set(HeaderMessageNumber, "17")
	r.Header.Set(HeaderResourceID, ch.ResourceID)
	if ch.ResourceID == "" { // a pending channel: Google knows the id, Greep not yet
		r.Header.Set(HeaderResourceID, "res-new")
	}
	r.Header.Set(HeaderResourceURI, "https://admin.googleapis.com/admin/reports/v1/activity/users/all/applications/admin")
	r.Header.Set(HeaderChannelExpiration, ch.Expiration.Format(time.RFC1123))
	r.Header.Set("Content-Type", "application/json; charset=UTF-8")
	return r
}

type fixture struct {
	store *memStore
	queue *queuetest.Queue
	clock *clock
	h     *Handler
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{store: newMemStore(), queue: &queuetest.Queue{}, clock: &clock{t: t0.Add(time.Minute)}}
	f.store.putChannels(t, liveChannel)
	f.h = New(f.store, f.queue, Config{Debounce: 2 * time.Minute, Now: f.clock.Now})
	return f
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func TestRefusals(t *testing.T) {
	valid := activityBody(1, "ADD_GROUP_MEMBER", "eng@example.com", "alice@example.com")
	without := func(h string) func(*http.Request) { return func(r *http.Request) { r.Header.Del(h) } }
	set := func(h, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(h, v) } }
	expired := liveChannel
	expired.ID, expired.Expiration = "expired", t0
	stopped := liveChannel
	stopped.ID, stopped.State = "stopped", "stopped"
	noToken := liveChannel
	noToken.ID, noToken.Token = "no-token", ""
	groupsCh := liveChannel
	groupsCh.ID, groupsCh.Application = "groups-ch", "groups"

	cases := []struct {
		name   string
		ch     greep.Channel
		state  string
		body   string
		mutate func(*http.Request)
		status int
		reason string
	}{
		{"GET", liveChannel, "ADD_GROUP_MEMBER", valid, func(r *http.Request) { r.Method = http.MethodGet }, 405, "httpMethodNotAllowed"},
		{"no channel id", liveChannel, "ADD_GROUP_MEMBER", valid, without(HeaderChannelID), 400, "required"},
		{"no token", liveChannel, "ADD_GROUP_MEMBER", valid, without(HeaderChannelToken), 400, "required"},
		{"no resource state", liveChannel, "ADD_GROUP_MEMBER", valid, without(HeaderResourceState), 400, "required"},
		{"no message number", liveChannel, "ADD_GROUP_MEMBER", valid, without(HeaderMessageNumber), 400, "required"},
		{"no resource id", liveChannel, "ADD_GROUP_MEMBER", valid, without(HeaderResourceID), 400, "required"},
		{"bad message number", liveChannel, "ADD_GROUP_MEMBER", valid, set(HeaderMessageNumber, "x1"), 400, "invalid"},
		{"unknown channel", liveChannel, "ADD_GROUP_MEMBER", valid, set(HeaderChannelID, "forged"), 404, "notFound"},
		{"expired channel", expired, "ADD_GROUP_MEMBER", valid, nil, 404, "notFound"},
		{"stopped channel", stopped, "ADD_GROUP_MEMBER", valid, nil, 404, "notFound"},
		{"wrong token", liveChannel, "ADD_GROUP_MEMBER", valid, set(HeaderChannelToken, "s3cret-token-0123456788"), 403, "forbidden"},
		{"token prefix", liveChannel, "ADD_GROUP_MEMBER", valid, set(HeaderChannelToken, "s3cret"), 403, "forbidden"},
		{"channel without token", noToken, "ADD_GROUP_MEMBER", valid, set(HeaderChannelToken, "anything"), 403, "forbidden"},
		{"wrong resource id", liveChannel, "ADD_GROUP_MEMBER", valid, set(HeaderResourceID, "other"), 403, "forbidden"},
		{"wrong token on sync", liveChannel, "sync", "", set(HeaderChannelToken, "guess"), 403, "forbidden"},
		{"declared body over 1 MiB", liveChannel, "ADD_GROUP_MEMBER", strings.Repeat(" ", MaxBody+1), nil, 413, "requestTooLarge"},
		{"streamed body over 1 MiB", liveChannel, "ADD_GROUP_MEMBER", strings.Repeat(" ", MaxBody) + valid, func(r *http.Request) { r.ContentLength = -1 }, 413, "requestTooLarge"},
		{"malformed JSON", liveChannel, "ADD_GROUP_MEMBER", `{"id":`, nil, 400, "parseError"},
		{"not an activity", liveChannel, "ADD_GROUP_MEMBER", `{"kind":"admin#directory#group","id":{}}`, nil, 400, "parseError"},
		{"empty event body", liveChannel, "ADD_GROUP_MEMBER", "", nil, 400, "parseError"},
		{"other application", groupsCh, "ADD_GROUP_MEMBER", valid, nil, 400, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.store.putChannels(t, liveChannel, c.ch)
			before := f.store.stateNames()
			r := notification(c.ch, c.state, c.body)
			if c.mutate != nil {
				c.mutate(r)
			}
			w := f.serve(r)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, c.status, w.Body)
			}
			var ge googleerror.Body
			if err := json.Unmarshal(w.Body.Bytes(), &ge); err != nil || ge.Error.Code != c.status ||
				len(ge.Error.Errors) != 1 || ge.Error.Errors[0].Reason != c.reason || ge.Error.Message == "" {
				t.Errorf("body %s is not Google's error JSON with reason %q (%v)", w.Body, c.reason, err)
			}
			if n := len(f.queue.Accepted()); n != 0 {
				t.Errorf("%d tasks enqueued", n)
			}
			if n := f.store.eventCount(); n != 0 {
				t.Errorf("%d events stored", n)
			}
			if after := f.store.stateNames(); !reflect.DeepEqual(before, after) {
				t.Errorf("state documents %v became %v", before, after)
			}
		})
	}
}

func TestSyncIsAcknowledged(t *testing.T) {
	f := newFixture(t)
	for _, ch := range []greep.Channel{liveChannel, {ID: "pending", Application: "admin", Token: "tok", Expiration: t0.Add(time.Hour), State: "pending"}} {
		f.store.putChannels(t, ch)
		r := notification(ch, ResourceStateSync, "")
		r.Header.Set(HeaderMessageNumber, "1")
		if w := f.serve(r); w.Code != http.StatusOK {
			t.Fatalf("sync on %s channel: status %d (%s)", ch.State, w.Code, w.Body)
		}
	}
	if len(f.queue.Accepted()) != 0 || f.store.eventCount() != 0 {
		t.Errorf("sync stored or enqueued something")
	}
}

func TestEventMakesOneDelayedRefresh(t *testing.T) {
	f := newFixture(t)
	w := f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", activityBody(1, "ADD_GROUP_MEMBER", "Eng@Example.com", "alice@example.com")))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d (%s)", w.Code, w.Body)
	}
	all := f.queue.Accepted()
	if len(all) != 1 {
		t.Fatalf("%d tasks, want 1", len(all))
	}
	task := all[0]
	if task.Queue != tasks.QueueDirectory || task.Path != tasks.PathDirectoryRefresh || task.Name == "" {
		t.Errorf("task %+v is not a named directory refresh", task)
	}
	if want := f.clock.Now().Add(2 * time.Minute); !task.ScheduleTime.Equal(want) {
		t.Errorf("scheduled at %v, want %v", task.ScheduleTime, want)
	}
	var body tasks.Refresh
	if err := json.Unmarshal(task.Body, &body); err != nil {
		t.Fatal(err)
	}
	// The freshness clock starts at the notification's arrival and the activity's time.
	want := tasks.Refresh{Group: "eng@example.com", Reason: "push: ADD_GROUP_MEMBER",
		Expect:     []tasks.Expectation{{Member: "alice@example.com", Present: true}},
		NotifiedAt: f.clock.Now(), ChangedAt: t0.Add(time.Millisecond),
		Actor: "admin@example.com", ActivityID: "admin:2026-11-22T10:00:00.001Z:1:0"}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body %+v, want %+v", body, want)
	}
	if f.store.eventCount() != 1 {
		t.Errorf("%d events in history, want 1", f.store.eventCount())
	}
}

// TestBurstCostsOneRefreshPerGroup: 1,000 events over 50 groups, all inside one debounce
// window, make exactly one refresh per group, and the history keeps all 1,000.
func TestBurstCostsOneRefreshPerGroup(t *testing.T) {
	f := newFixture(t)
	const events, groups = 1000, 50
	for i := range events {
		f.clock.Advance(100 * time.Millisecond) // 100 s in all, inside the 2-minute window
		group := fmt.Sprintf("g%02d@example.com", i%groups)
		body := activityBody(i, "ADD_GROUP_MEMBER", group, fmt.Sprintf("u%d@example.com", i))
		if w := f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body)); w.Code != http.StatusOK {
			t.Fatalf("event %d: status %d (%s)", i, w.Code, w.Body)
		}
	}
	perGroup := map[string]int{}
	for _, task := range f.queue.Accepted() {
		var r tasks.Refresh
		if err := json.Unmarshal(task.Body, &r); err != nil {
			t.Fatal(err)
		}
		perGroup[r.Group]++
	}
	if len(perGroup) != groups {
		t.Errorf("refreshes for %d groups, want %d", len(perGroup), groups)
	}
	for g, n := range perGroup {
		if n != 1 {
			t.Errorf("group %s: %d refreshes, want 1", g, n)
		}
	}
	if n := f.store.eventCount(); n != events {
		t.Errorf("history holds %d events, want %d", n, events)
	}
}

func TestConcurrentBurstOnOneGroup(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			body := activityBody(i, "REMOVE_GROUP_MEMBER", "eng@example.com", fmt.Sprintf("u%d@example.com", i))
			if w := f.serve(notification(liveChannel, "REMOVE_GROUP_MEMBER", body)); w.Code != http.StatusOK {
				t.Errorf("status %d (%s)", w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	if n := len(f.queue.Accepted()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

func TestNextWindowRefreshesAgain(t *testing.T) {
	f := newFixture(t)
	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", activityBody(1, "ADD_GROUP_MEMBER", "eng@example.com", "a@example.com")))
	f.clock.Advance(2*time.Minute + time.Second)
	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", activityBody(2, "ADD_GROUP_MEMBER", "eng@example.com", "b@example.com")))
	all := f.queue.Accepted()
	if len(all) != 2 {
		t.Fatalf("%d refreshes, want 2 (one per window)", len(all))
	}
	if all[0].Name == all[1].Name {
		t.Errorf("both windows' tasks are named %q", all[0].Name)
	}
}

func TestRedeliveryIsANoOp(t *testing.T) {
	f := newFixture(t)
	body := activityBody(7, "ADD_GROUP_MEMBER", "eng@example.com", "a@example.com")
	other := liveChannel // the next channel, overlapping the old one during renewal
	other.ID, other.Token, other.ResourceID = "greep-admin-2", "another-secret", "res-admin"
	f.store.putChannels(t, liveChannel, other)

	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body))
	stateBefore := f.store.stateNames()
	for _, step := range []struct {
		advance time.Duration
		ch      greep.Channel
	}{
		{time.Second, liveChannel},      // Google retrying inside the window
		{0, other},                      // the same activity through the overlapping channel
		{10 * time.Minute, liveChannel}, // a late retry, after the refresh ran
	} {
		f.clock.Advance(step.advance)
		if w := f.serve(notification(step.ch, "ADD_GROUP_MEMBER", body)); w.Code != http.StatusOK {
			t.Fatalf("redelivery: status %d (%s)", w.Code, w.Body)
		}
	}
	if n := len(f.queue.Accepted()); n != 1 {
		t.Errorf("%d tasks after redeliveries, want the 1 of the first delivery", n)
	}
	if n := f.store.eventCount(); n != 1 {
		t.Errorf("%d events after redeliveries, want 1", n)
	}
	if after := f.store.stateNames(); !reflect.DeepEqual(stateBefore, after) {
		t.Errorf("state documents %v became %v", stateBefore, after)
	}
}

// A failed enqueue answers 5xx so Google redelivers; the redelivery finds its events
// recorded but the window's task missing, and enqueues it: no work is lost.
func TestEnqueueFailureIsRepairedByRedelivery(t *testing.T) {
	f := newFixture(t)
	body := activityBody(3, "ADD_GROUP_MEMBER", "eng@example.com", "a@example.com")
	f.queue.Intercept(queuetest.Failing(errors.New("queue unavailable")))
	if w := f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body)); w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 so Google retries (%s)", w.Code, w.Body)
	}
	f.queue.Intercept(nil)
	f.clock.Advance(30 * time.Second)
	if w := f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body)); w.Code != http.StatusOK {
		t.Fatalf("redelivery: status %d (%s)", w.Code, w.Body)
	}
	all := f.queue.Accepted()
	if len(all) != 1 {
		t.Fatalf("%d tasks after the redelivery, want 1", len(all))
	}
	var r tasks.Refresh
	_ = json.Unmarshal(all[0].Body, &r)
	if len(r.Expect) != 1 || r.Expect[0].Member != "a@example.com" {
		t.Errorf("repaired task lost the expectation: %+v", r)
	}
	// A later event in the window finds the task enqueued and adds nothing.
	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", activityBody(4, "ADD_GROUP_MEMBER", "eng@example.com", "b@example.com")))
	if n := len(f.queue.Accepted()); n != 1 {
		t.Errorf("%d tasks, want 1", n)
	}
}

// A redelivery that comes only after the window has passed still repairs a task that
// never made it into the queue; it runs at once.
func TestLateRedeliveryRepairsLostTask(t *testing.T) {
	f := newFixture(t)
	body := activityBody(3, "ADD_GROUP_MEMBER", "eng@example.com", "a@example.com")
	f.queue.Intercept(queuetest.Failing(errors.New("queue unavailable")))
	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body))
	f.queue.Intercept(nil)
	f.clock.Advance(10 * time.Minute)
	if w := f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body)); w.Code != http.StatusOK {
		t.Fatalf("redelivery: status %d (%s)", w.Code, w.Body)
	}
	if all := f.queue.Accepted(); len(all) != 1 || all[0].ScheduleTime.After(f.clock.Now()) {
		t.Fatalf("tasks %+v, want the lost one, due now", all)
	}
	f.clock.Advance(time.Minute) // a further redelivery finds it enqueued
	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body))
	if n := len(f.queue.Accepted()); n != 1 {
		t.Errorf("%d tasks, want 1", n)
	}
}

func TestStoreFailureAnswers5xx(t *testing.T) {
	f := newFixture(t)
	f.store.failAdd(errors.New("disk full"))
	w := f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", activityBody(3, "ADD_GROUP_MEMBER", "eng@example.com", "a@example.com")))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "disk full") {
		t.Errorf("status %d body %s: want 500 without internals", w.Code, w.Body)
	}
	if len(f.queue.Accepted()) != 0 {
		t.Errorf("enqueued work for events not recorded")
	}
}

func TestSettingsChangeSchedulesSettingsRead(t *testing.T) {
	f := newFixture(t)
	body := `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"5","applicationName":"admin"},"actor":{"email":"x@example.com"},
	  "events":[{"name":"CHANGE_GROUP_SETTING","parameters":[{"name":"GROUP_EMAIL","value":"eng@example.com"},
	  {"name":"SETTING_NAME","value":"WHO_CAN_VIEW_GROUP"},{"name":"NEW_VALUE","value":"ANYONE_CAN_VIEW"}]}]}`
	for i := range 3 { // three deliveries of changes inside one window: one read
		b := strings.Replace(body, `"5"`, strconv.Itoa(10+i), 1)
		if w := f.serve(notification(liveChannel, "CHANGE_GROUP_SETTING", b)); w.Code != http.StatusOK {
			t.Fatalf("status %d (%s)", w.Code, w.Body)
		}
	}
	all := f.queue.Accepted()
	if len(all) != 1 || all[0].Queue != tasks.QueueSettings || all[0].Path != tasks.PathSettingsGet {
		t.Fatalf("tasks %+v, want one settings read", all)
	}
	var sg tasks.SettingsGet
	if err := json.Unmarshal(all[0].Body, &sg); err != nil || sg.Group != "eng@example.com" {
		t.Errorf("settings read body %s (%v)", all[0].Body, err)
	}
}

func TestUnactionableEventIsHistoryOnly(t *testing.T) {
	f := newFixture(t)
	w := f.serve(notification(liveChannel, "CHANGE_USER_PASSWORD", activityBody(9, "CHANGE_USER_PASSWORD", "", "bob@example.com")))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d (%s)", w.Code, w.Body)
	}
	if len(f.queue.Accepted()) != 0 || f.store.eventCount() != 1 {
		t.Errorf("tasks %d events %d, want 0 and 1", len(f.queue.Accepted()), f.store.eventCount())
	}
}

func TestBodyIsReadOnlyAfterChecks(t *testing.T) {
	f := newFixture(t)
	r := notification(liveChannel, "ADD_GROUP_MEMBER", "")
	r.Header.Set(HeaderChannelToken, "forged")
	r.Body = io.NopCloser(failingReader{t})
	if w := f.serve(r); w.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403", w.Code)
	}
}

type failingReader struct{ t *testing.T }

func (f failingReader) Read([]byte) (int, error) {
	f.t.Error("the body of a forged notification was read")
	return 0, io.EOF
}

// BenchmarkNotify measures the webhook's own cost per event notification (in-memory
// store and queue), new events spread over 50 groups as in a burst.
func BenchmarkNotify(b *testing.B) {
	f := &fixture{queue: &queuetest.Queue{}, clock: &clock{t: t0.Add(time.Minute)}}
	bodies := make([]string, 1000)
	for i := range bodies {
		bodies[i] = activityBody(i, "ADD_GROUP_MEMBER", fmt.Sprintf("g%02d@example.com", i%50), fmt.Sprintf("u%d@example.com", i))
	}
	for i := 0; b.Loop(); i++ {
		if i%len(bodies) == 0 { // a new store keeps every event new
			f.store = newMemStore()
			f.store.putChannels(b, liveChannel)
			f.h = New(f.store, f.queue, Config{Now: f.clock.Now})
		}
		if w := f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", bodies[i%len(bodies)])); w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
