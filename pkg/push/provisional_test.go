package push

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/tasks"
)

// provisionalFixture is the webhook with provisional apply on, over a cached group
// eng@example.com (read at t0) holding alice.
func provisionalFixture(t *testing.T) (*provisionalFix, *observer.ObservedLogs) {
	t.Helper()
	ctx := context.Background()
	core, logs := observer.New(zap.InfoLevel)
	f := &fixture{store: newMemStore(), queue: &queuetest.Queue{}, clock: &clock{t: t0.Add(time.Minute)}}
	f.store.putChannels(t, liveChannel)
	log := zap.New(core)
	ap := &provisional.Applier{Store: f.store, Now: f.clock.Now, Log: log}
	f.h = New(f.store, f.queue, Config{Debounce: 2 * time.Minute, Now: f.clock.Now, Log: log, Provisional: ap})
	if err := f.store.PutGroups(ctx, []greep.Group{{ID: "g-eng", Email: "eng@example.com", ETag: "e1"}}); err != nil {
		t.Fatal(err)
	}
	alice := greep.Member{ID: "u-alice", Email: "alice@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: greep.UserActive}
	if err := f.store.ReplaceMembers(ctx, "g-eng", []greep.Member{alice}, "e1", t0); err != nil {
		t.Fatal(err)
	}
	return &provisionalFix{fixture: f, applier: ap}, logs
}

// provisionalFix serves a notification and waits for what it applies.
type provisionalFix struct {
	*fixture
	applier *provisional.Applier
}

func (f *provisionalFix) serve(r *http.Request) *httptest.ResponseRecorder {
	w := f.fixture.serve(r)
	f.applier.Flush()
	return w
}

func (f *provisionalFix) members(t *testing.T) []string {
	t.Helper()
	ms, err := f.store.Members(context.Background(), "g-eng")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Email)
	}
	return out
}

func (f *provisionalFix) refreshes(t *testing.T) int {
	n := 0
	for _, task := range f.queue.Accepted() {
		if task.Path == tasks.PathDirectoryRefresh {
			n++
		}
	}
	return n
}

// TestNotificationAppliedProvisionally: the webhook's answer comes after the change is in
// the cache, and the debounced read is scheduled as before.
func TestNotificationAppliedProvisionally(t *testing.T) {
	f, _ := provisionalFixture(t)
	if w := f.serve(notification(liveChannel, "x", activityBody(1, "REMOVE_GROUP_MEMBER", "eng@example.com", "alice@example.com"))); w.Code != http.StatusOK {
		t.Fatalf("status %d (%s)", w.Code, w.Body)
	}
	if got := f.members(t); len(got) != 0 {
		t.Fatalf("members %v after the removal was accepted, want none", got)
	}
	if n := f.refreshes(t); n != 1 {
		t.Fatalf("%d refreshes scheduled, want 1", n)
	}
}

// TestBadNotificationsApplyNothing: an event on a group Greep does not know, a partial
// activity (a role change without the role) and a notification replayed after Google's
// read change nothing in the cache and are logged; the debounced read runs for each.
func TestBadNotificationsApplyNothing(t *testing.T) {
	ctx := context.Background()
	f, logs := provisionalFixture(t)

	f.serve(notification(liveChannel, "x", activityBody(1, "ADD_GROUP_MEMBER", "nosuch@example.com", "bob@example.com")))
	if _, err := f.store.Group(ctx, "nosuch@example.com"); err == nil {
		t.Fatal("an event on an unknown group created it")
	}
	if logs.FilterField(zap.String("reason", "unknown group")).Len() != 1 {
		t.Errorf("the unknown group is not logged: %v", logs.All())
	}

	f.serve(notification(liveChannel, "x", activityBody(2, "UPDATE_GROUP_MEMBER", "eng@example.com", "alice@example.com")))
	if logs.FilterField(zap.String("reason", provisional.SkipMalformed)).Len() != 1 {
		t.Errorf("the partial activity is not logged: %v", logs.All())
	}

	// Bob is added; Google's read (at t0+2m) later says he is gone again (removed in
	// the meantime); then the add notification is delivered again.
	add := activityBody(3, "ADD_GROUP_MEMBER", "eng@example.com", "bob@example.com")
	f.serve(notification(liveChannel, "x", add))
	if got := f.members(t); len(got) != 2 {
		t.Fatalf("members %v after bob's addition", got)
	}
	alice := greep.Member{ID: "u-alice", Email: "alice@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: greep.UserActive}
	if err := f.store.ReplaceMembers(ctx, "g-eng", []greep.Member{alice}, "e2", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	f.serve(notification(liveChannel, "x", add))
	if got := f.members(t); len(got) != 1 {
		t.Fatalf("members %v after the replay, want Google's read (alice)", got)
	}
	if logs.FilterMessageSnippet("nothing applied provisionally").Len() != 1 {
		t.Errorf("the replay is not logged: %v", logs.All())
	}
	// The unknown group's read and eng's (the partial activity opened its window, bob's
	// addition fell in it); a replay opens none.
	if n := f.refreshes(t); n != 2 {
		t.Errorf("%d refreshes scheduled, want 2 (the unknown group's and eng's)", n)
	}
}
