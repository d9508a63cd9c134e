package remediation

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/rules"
)

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
	queue *queuetest.Queue
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
	e := &env{store: st, queue: &queuetest.Queue{}, clock: &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}}
	e.svc = New(Config{Rules: rc, Store: st, Queue: e.queue, Mode: mode, Now: e.clock.Now})
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
