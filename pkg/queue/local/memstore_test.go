package local_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/greephq/greep/pkg/greep"
)

// memStore is an in-memory greep.RecordStore with the contract's semantics, and a switch
// that makes writes fail.
type memStore struct {
	mu       sync.Mutex
	kinds    map[string]map[string][]byte
	failPuts atomic.Bool
}

func newMemStore() *memStore { return &memStore{kinds: map[string]map[string][]byte{}} }

var errUnavailable = errors.New("store unavailable")

func (s *memStore) CreateRecord(_ context.Context, kind, id string, data []byte) error {
	if s.failPuts.Load() {
		return errUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kinds[kind][id]; ok {
		return greep.Errorf(greep.ECONFLICT, "record %s/%s exists", kind, id)
	}
	s.put(kind, id, data)
	return nil
}

func (s *memStore) PutRecord(_ context.Context, kind, id string, data []byte) error {
	if s.failPuts.Load() {
		return errUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(kind, id, data)
	return nil
}

func (s *memStore) put(kind, id string, data []byte) {
	if s.kinds[kind] == nil {
		s.kinds[kind] = map[string][]byte{}
	}
	s.kinds[kind][id] = slices.Clone(data)
}

func (s *memStore) DeleteRecord(_ context.Context, kind, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kinds[kind], id)
	return nil
}

func (s *memStore) Records(_ context.Context, kind string, fn func(id string, data []byte) error) error {
	s.mu.Lock()
	ids := make([]string, 0, len(s.kinds[kind]))
	for id := range s.kinds[kind] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	data := make([][]byte, len(ids))
	for i, id := range ids {
		data[i] = slices.Clone(s.kinds[kind][id])
	}
	s.mu.Unlock()
	for i, id := range ids {
		if err := fn(id, data[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kinds[kind])
}
