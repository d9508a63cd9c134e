package push

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
)

// memStore is the shared in-memory store (cache/memory, which passes the store
// contract), keeping note of the state documents that exist so a test can show a
// refused notification wrote none. Intercept makes its calls fail.
type memStore struct {
	*memory.Store
	mu    sync.Mutex
	names map[string]bool
}

func newMemStore() *memStore { return &memStore{Store: memory.New(), names: map[string]bool{}} }

// UpdateState implements push.Store, noting whether the document exists afterwards.
func (s *memStore) UpdateState(ctx context.Context, name string, fn func([]byte) ([]byte, error)) error {
	if err := s.Store.UpdateState(ctx, name, fn); err != nil {
		return err
	}
	_, err := s.Store.State(ctx, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.names[name] = true
	} else {
		delete(s.names, name)
	}
	return nil
}

// stateNames lists the state documents, to show a refused notification wrote none.
func (s *memStore) stateNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.names))
}

// eventCount counts the events in the history.
func (s *memStore) eventCount() int {
	n := 0
	q := greep.EventQuery{Page: greep.Page{Limit: cache.MaxPageSize}}
	for {
		es, next, err := s.Events(context.Background(), q)
		if err != nil {
			panic(err) // the store here fails only when a test makes it
		}
		n += len(es)
		if next == "" {
			return n
		}
		q.Token = next
	}
}

// failAdd makes recording events fail with err.
func (s *memStore) failAdd(err error) {
	s.Intercept(func(op string) error {
		if op == "AddEvents" {
			return err
		}
		return nil
	})
}

func (s *memStore) putChannels(t testing.TB, chs ...greep.Channel) {
	t.Helper()
	b, err := json.Marshal(chs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateState(context.Background(), greep.StateChannels, func([]byte) ([]byte, error) { return b, nil }); err != nil {
		t.Fatal(err)
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
