package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// eventEntry is a recorded event with what it is listed by.
type eventEntry struct {
	key   string // time key \x00 id: time order, then id
	group string // folded group email
	data  []byte
}

// AddEvents implements greep.EventStore. A batch with one bad event records none.
func (s *Store) AddEvents(ctx context.Context, events []greep.Event) (int, error) {
	if err := s.intercepted("AddEvents"); err != nil {
		return 0, err
	}
	entries := make([]eventEntry, len(events))
	for i, e := range events {
		if err := cache.CheckKey("event id", e.ID); err != nil {
			return 0, err
		}
		if e.Group != "" {
			if err := cache.CheckKey("event group", e.Group); err != nil {
				return 0, err
			}
		}
		b, err := encode("event "+e.ID, e)
		if err != nil {
			return 0, err
		}
		entries[i] = eventEntry{key: key(string(cache.TimeKey(e.Time)), e.ID), group: cache.FoldEmail(e.Group), data: b}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	added := 0
	for i, e := range events {
		if _, ok := s.events[e.ID]; ok {
			continue
		}
		s.events[e.ID] = entries[i]
		added++
	}
	return added, nil
}

// Events implements greep.EventStore.
func (s *Store) Events(ctx context.Context, q greep.EventQuery) ([]greep.Event, string, error) {
	if err := s.intercepted("Events"); err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	group := cache.FoldEmail(q.Group)
	byKey := map[string][]byte{}
	var keys []string
	for _, e := range s.events {
		if q.Group != "" && e.group != group {
			continue
		}
		byKey[e.key] = e.data
		keys = append(keys, e.key)
	}
	sel, next, err := page(keys, string(cache.TimeKey(q.Since)), q.Token, cache.PageSize(q.Page))
	if err != nil {
		return nil, "", err
	}
	out := make([]greep.Event, len(sel))
	for i, k := range sel {
		if err := decode("event", byKey[k], &out[i]); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// PruneEvents implements greep.EventStore.
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if err := s.intercepted("PruneEvents"); err != nil {
		return 0, err
	}
	end := string(cache.TimeKey(cutoff))
	s.mu.Lock()
	defer s.mu.Unlock()
	var old []string // event ids, oldest first
	for id, e := range s.events {
		if e.key < end {
			old = append(old, id)
		}
	}
	slices.SortFunc(old, func(a, b string) int { return strings.Compare(s.events[a].key, s.events[b].key) })
	old = old[:min(len(old), limit)]
	for _, id := range old {
		delete(s.events, id)
	}
	return len(old), nil
}
