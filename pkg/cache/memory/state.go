package memory

import (
	"bytes"
	"context"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// State implements greep.StateStore.
func (s *Store) State(ctx context.Context, name string) ([]byte, error) {
	if err := s.intercepted("State"); err != nil {
		return nil, err
	}
	if err := cache.CheckKey("state name", name); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.state[name]
	if !ok {
		return nil, greep.Errorf(greep.ENOTFOUND, "state %s not found", name)
	}
	return bytes.Clone(b), nil
}

// UpdateState implements greep.StateStore. fn returning nil deletes the document. fn
// runs without the store's lock and runs again if another write to the document came
// first, as a Datastore transaction retries.
func (s *Store) UpdateState(ctx context.Context, name string, fn func(cur []byte) ([]byte, error)) error {
	if err := s.intercepted("UpdateState"); err != nil {
		return err
	}
	if err := cache.CheckKey("state name", name); err != nil {
		return err
	}
	version := "state/" + name
	for {
		s.mu.RLock()
		cur := bytes.Clone(s.state[name])
		seen := s.versions[version]
		s.mu.RUnlock()
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next != nil {
			if err := cache.CheckSize("state "+name, len(next)); err != nil {
				return err
			}
		}
		s.mu.Lock()
		if s.versions[version] != seen {
			s.mu.Unlock()
			continue
		}
		if next == nil {
			delete(s.state, name)
		} else {
			s.state[name] = bytes.Clone(next)
		}
		s.versions[version]++
		s.mu.Unlock()
		return nil
	}
}

// AddCount implements greep.StateStore.
func (s *Store) AddCount(ctx context.Context, name string, delta int64) (int64, error) {
	if err := s.intercepted("AddCount"); err != nil {
		return 0, err
	}
	if err := cache.CheckKey("counter name", name); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters[name] += delta
	return s.counters[name], nil
}

// Count implements greep.StateStore.
func (s *Store) Count(ctx context.Context, name string) (int64, error) {
	if err := s.intercepted("Count"); err != nil {
		return 0, err
	}
	if err := cache.CheckKey("counter name", name); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.counters[name], nil
}
