package remediation

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/rules"
)

// recorder is a queue that keeps tasks for the test to run, refusing a name it has seen,
// as Cloud Tasks does within its de-duplication window.
type recorder struct {
	mu    sync.Mutex
	tasks []queue.Task
	names map[string]bool
}

func (q *recorder) Enqueue(_ context.Context, t queue.Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.names == nil {
		q.names = map[string]bool{}
	}
	if t.Name != "" {
		if q.names[t.Queue+"/"+t.Name] {
			return nil
		}
		q.names[t.Queue+"/"+t.Name] = true
	}
	q.tasks = append(q.tasks, t)
	return nil
}

// take removes and returns the queued tasks of path.
func (q *recorder) take(path string) []queue.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out, rest []queue.Task
	for _, t := range q.tasks {
		if t.Path == path {
			out = append(out, t)
		} else {
			rest = append(rest, t)
		}
	}
	q.tasks = rest
	return out
}

// runTask delivers t to h as the local dispatcher would, and returns the status.
func runTask(t *testing.T, h http.Handler, task queue.Task) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, task.Path, bytes.NewReader(task.Body))
	req = req.WithContext(queue.WithInfo(req.Context(), queue.Info{Queue: task.Queue, Name: task.Name}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	store *bolt.Store
	queue *recorder
	clock *clock
	svc   *Service
	h     http.Handler
}

func newEnv(t *testing.T, rulesYAML string, mode string) *env {
	t.Helper()
	rc, err := rules.Parse([]byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, queue: &recorder{}, clock: &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}}
	e.svc = New(Config{Rules: rc, Store: st, Queue: e.queue, Mode: mode, Now: e.clock.Now, At: func(d time.Duration) time.Time { return e.clock.Now().Add(d) }})
	e.h = e.svc.Handler()
	return e
}

// group stores a group with members and settings.
func (e *env) group(t *testing.T, email string, settings greep.Settings, members ...greep.Member) {
	t.Helper()
	ctx := context.Background()
	if err := e.store.PutGroups(ctx, []greep.Group{{ID: "id-" + email, Email: email, Name: email}}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ReplaceMembers(ctx, "id-"+email, members, "etag", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if settings != nil {
		if err := e.store.PutSettings(ctx, greep.GroupSettings{GroupEmail: email, Settings: settings, ReadAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) findings(t *testing.T, q greep.FindingQuery) []greep.Finding {
	t.Helper()
	var out []greep.Finding
	for {
		fs, next, err := e.store.Findings(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fs...)
		if next == "" {
			return out
		}
		q.Token = next
	}
}
