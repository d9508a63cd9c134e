package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
)

type body struct {
	Group string `json:"group"`
}

func TestHandle(t *testing.T) {
	for _, c := range []struct {
		name   string
		body   string
		err    error
		status int
		reason string
		ran    bool
	}{
		{"done", `{"group":"g"}`, nil, 204, "", true},
		{"too large", `{"group":"` + strings.Repeat("x", queue.MaxBody) + `"}`, nil, 413, "requestTooLarge", false},
		{"unknown key", `{"group":"g","extra":1}`, nil, 400, "invalid", false},
		{"not JSON", `{"group":`, nil, 400, "invalid", false},
		{"invalid", `{"group":"g"}`, fmt.Errorf("refresh: %w", greep.Errorf(greep.EINVALID, "no group")), 400, "invalid", true},
		{"retry", `{"group":"g"}`, fmt.Errorf("list: %w", &queue.RetryError{Status: 429, Reason: "rateLimitExceeded", Err: errors.New("quota")}), 429, "rateLimitExceeded", true},
		{"failed", `{"group":"g"}`, errors.New("datastore down"), 500, "backendError", true},
		{"terminal", `{"group":"g"}`, fmt.Errorf("patch: %w", queue.Terminal(errors.New("forbidden"))), 204, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got queue.Run
			var gotBody body
			ran := false
			h := queue.Handle(queue.Runner{Queue: &queuetest.Queue{}, Log: zap.NewNop()}, func(ctx context.Context, run queue.Run, b body) error {
				ran, got, gotBody = true, run, b
				return c.err
			})
			r := httptest.NewRequest(http.MethodPost, "/tasks/x", strings.NewReader(c.body))
			r = r.WithContext(queue.WithInfo(r.Context(), queue.Info{Queue: "sweep", Name: "t1"}))
			w := httptest.NewRecorder()
			h(w, r)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if ran != c.ran {
				t.Fatalf("fn ran: %v, want %v", ran, c.ran)
			}
			if ran && (got.Queue != "sweep" || got.Name != "t1" || got.Path != "/tasks/x" || string(got.Body) != c.body || gotBody.Group != "g") {
				t.Errorf("run %+v body %+v", got, gotBody)
			}
			if c.status == 204 {
				if w.Body.Len() != 0 {
					t.Errorf("204 with body %s", w.Body)
				}
				return
			}
			var b googleerror.Body
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if b.Error.Code != c.status || len(b.Error.Errors) != 1 || b.Error.Errors[0].Reason != c.reason {
				t.Errorf("body %s, want %d %s", w.Body, c.status, c.reason)
			}
			if c.name == "invalid" && b.Error.Message != "no group" {
				t.Errorf("message %q, want the greep error's", b.Error.Message)
			}
		})
	}
}

// TestRetryAfter: a handler that asks to run again at a time (the quota reset) gets a
// copy of its task scheduled then, named after the task and the time so a re-delivered
// run schedules no second copy, and the run ends 2xx so the queue's backoff does not
// retry into a spent quota.
func TestRetryAfter(t *testing.T) {
	q := &queuetest.Queue{}
	at := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	h := queue.Handle(queue.Runner{Queue: q}, func(context.Context, queue.Run, body) error {
		return fmt.Errorf("members: %w", queue.RetryAfter(at, "dailyLimitExceeded", errors.New("quota")))
	})
	run := func(info *queue.Info) int {
		r := httptest.NewRequest(http.MethodPost, "/tasks/x", strings.NewReader(`{"group":"g"}`))
		if info != nil {
			r = r.WithContext(queue.WithInfo(r.Context(), *info))
		}
		w := httptest.NewRecorder()
		h(w, r)
		return w.Code
	}
	for range 2 {
		if code := run(&queue.Info{Queue: "sweep", Name: "t1"}); code != http.StatusNoContent {
			t.Fatalf("status %d, want 204", code)
		}
	}
	got := q.Accepted()
	if len(got) != 1 {
		t.Fatalf("%d copies scheduled, want 1: %+v", len(got), got)
	}
	c := got[0]
	if c.Queue != "sweep" || c.Path != "/tasks/x" || string(c.Body) != `{"group":"g"}` || !c.ScheduleTime.Equal(at) || c.Name == "" || c.Name == "t1" {
		t.Errorf("copy %+v: want the task on its queue, at %v, under a derived name", c, at)
	}
	// A later reset is another copy.
	at = at.Add(24 * time.Hour)
	run(&queue.Info{Queue: "sweep", Name: "t1"})
	if n := len(q.Accepted()); n != 2 {
		t.Errorf("%d copies after a second reset, want 2", n)
	}
	// Outside a queue there is nothing to schedule the copy on: the run fails and is retried.
	if code := run(nil); code != http.StatusInternalServerError {
		t.Errorf("outside a queue: status %d, want 500", code)
	}
	// A queue that refuses the copy leaves the task to the queue's retry.
	q.Intercept(queuetest.Failing(errors.New("cloud tasks down")))
	if code := run(&queue.Info{Queue: "sweep", Name: "t2"}); code != http.StatusInternalServerError {
		t.Errorf("copy refused: status %d, want 500", code)
	}
}

// TestOnlyCron: the cron paths take App Engine cron's header only where it is trusted,
// and queued tasks only where the path allows them.
func TestOnlyCron(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, c := range []struct {
		name           string
		trust, orTasks bool
		cron, task     bool
		want           int
	}{
		{"cron, trusted", true, false, true, false, 200},
		{"cron header, untrusted", false, false, true, false, 403},
		{"no header", true, false, false, false, 403},
		{"task, allowed", false, true, false, true, 200},
		{"task, not allowed", true, false, false, true, 403},
	} {
		r := httptest.NewRequest(http.MethodGet, "/cron/x", nil)
		if c.cron {
			r.Header.Set(queue.HeaderCron, "true")
		}
		if c.task {
			r = r.WithContext(queue.WithInfo(r.Context(), queue.Info{Queue: "q"}))
		}
		w := httptest.NewRecorder()
		queue.OnlyCron(c.trust, c.orTasks)(ok).ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, w.Code, c.want)
		}
	}
}
