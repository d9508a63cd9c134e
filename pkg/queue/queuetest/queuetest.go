// Package queuetest is the fake queue.Enqueuer of Greep's tests: a queue that keeps the
// tasks it accepts for the test to run, with Cloud Tasks' named-task semantics, so every
// test de-duplicates names the way production does.
package queuetest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/queue"
)

// Queue records tasks and keeps them until the test takes them. A named task is refused
// quietly (Enqueue returns nil) when a task of that name was accepted on the same queue
// before, queued or already taken: a test runs well inside Cloud Tasks' de-duplication
// window. The zero value is ready to use.
type Queue struct {
	mu        sync.Mutex
	names     map[string]bool // queue/name of every named task accepted
	pending   []queue.Task
	accepted  []queue.Task
	intercept Interceptor
}

// Interceptor stands in front of Enqueue, as controller-runtime's fake client's
// interceptors do: it may fail the call, or pass it on to enqueue, the queue itself.
type Interceptor func(ctx context.Context, t queue.Task, enqueue queue.Enqueuer) error

// Match selects tasks.
type Match func(queue.Task) bool

// Path matches the tasks of one handler path.
func Path(p string) Match { return func(t queue.Task) bool { return t.Path == p } }

// DueBy matches the tasks whose schedule time is at or before now.
func DueBy(now time.Time) Match {
	return func(t queue.Task) bool { return !now.Before(t.ScheduleTime) }
}

// Failing is an Interceptor that refuses every task with err.
func Failing(err error) Interceptor {
	return func(context.Context, queue.Task, queue.Enqueuer) error { return err }
}

// Intercept puts f in front of every later Enqueue; nil removes it.
func (q *Queue) Intercept(f Interceptor) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.intercept = f
}

// Enqueue implements queue.Enqueuer.
func (q *Queue) Enqueue(ctx context.Context, t queue.Task) error {
	q.mu.Lock()
	f := q.intercept
	q.mu.Unlock()
	if f != nil {
		return f(ctx, t, enqueuer(q.enqueue))
	}
	return q.enqueue(ctx, t)
}

func (q *Queue) enqueue(_ context.Context, t queue.Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.Name != "" {
		key := t.Queue + "/" + t.Name
		if q.names[key] {
			return nil
		}
		if q.names == nil {
			q.names = map[string]bool{}
		}
		q.names[key] = true
	}
	t.Body = slices.Clone(t.Body)
	q.pending = append(q.pending, t)
	q.accepted = append(q.accepted, t)
	return nil
}

// Accepted returns every task accepted so far that matches all of match, in order,
// whether taken or not.
func (q *Queue) Accepted(match ...Match) []queue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []queue.Task
	for _, t := range q.accepted {
		if matches(t, match) {
			out = append(out, t)
		}
	}
	return out
}

// Pending returns the tasks not yet taken that match all of match, in order, leaving
// them queued.
func (q *Queue) Pending(match ...Match) []queue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []queue.Task
	for _, t := range q.pending {
		if matches(t, match) {
			out = append(out, t)
		}
	}
	return out
}

// Take removes and returns the queued tasks that match all of match, in order.
func (q *Queue) Take(match ...Match) []queue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out, rest []queue.Task
	for _, t := range q.pending {
		if matches(t, match) {
			out = append(out, t)
		} else {
			rest = append(rest, t)
		}
	}
	q.pending = rest
	return out
}

// Next removes and returns the first queued task that matches all of match.
func (q *Queue) Next(match ...Match) (queue.Task, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, t := range q.pending {
		if matches(t, match) {
			q.pending = slices.Delete(q.pending, i, i+1)
			return t, true
		}
	}
	return queue.Task{}, false
}

func matches(t queue.Task, match []Match) bool {
	for _, m := range match {
		if !m(t) {
			return false
		}
	}
	return true
}

// Deliver runs t on h as a dispatcher would: a POST of its body, marked as a task run
// (queue.WithInfo) so queue.OnlyTasks lets it through.
func Deliver(h http.Handler, t queue.Task) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, t.Path, bytes.NewReader(t.Body))
	req.Header.Set("Content-Type", "application/json")
	req = req.WithContext(queue.WithInfo(req.Context(), queue.Info{Queue: t.Queue, Name: t.Name}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type enqueuer func(ctx context.Context, t queue.Task) error

func (f enqueuer) Enqueue(ctx context.Context, t queue.Task) error { return f(ctx, t) }

var _ queue.Enqueuer = (*Queue)(nil)
