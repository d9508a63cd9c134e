package push

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// memStore is a small in-memory Store with injectable failures, for tests that need no
// real cache (the bolt-backed tests are in bolt_test.go).
type memStore struct {
	mu        sync.Mutex
	state     map[string][]byte
	events    map[string]greep.Event
	failAdd   error
	failState error // on UpdateState
}

func newMemStore() *memStore {
	return &memStore{state: map[string][]byte{}, events: map[string]greep.Event{}}
}

func (s *memStore) State(ctx context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.state[name]
	if !ok {
		return nil, greep.Errorf(greep.ENOTFOUND, "no state %q", name)
	}
	return b, nil
}

func (s *memStore) UpdateState(ctx context.Context, name string, fn func([]byte) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failState != nil {
		return s.failState
	}
	b, err := fn(s.state[name])
	if err != nil {
		return err
	}
	s.state[name] = b
	return nil
}

func (s *memStore) AddCount(ctx context.Context, name string, delta int64) (int64, error) {
	panic("not used by the webhook")
}

func (s *memStore) Count(ctx context.Context, name string) (int64, error) {
	panic("not used by the webhook")
}

func (s *memStore) AddEvents(ctx context.Context, events []greep.Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAdd != nil {
		return 0, s.failAdd
	}
	n := 0
	for _, e := range events {
		if _, ok := s.events[e.ID]; !ok {
			s.events[e.ID] = e
			n++
		}
	}
	return n, nil
}

func (s *memStore) eventCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// stateNames lists the state documents, to show a refused notification wrote none.
func (s *memStore) stateNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.state {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *memStore) putChannels(t *testing.T, chs ...greep.Channel) {
	t.Helper()
	b, err := json.Marshal(chs)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.state[greep.StateChannels] = b
	s.mu.Unlock()
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
