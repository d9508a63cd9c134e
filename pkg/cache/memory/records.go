package memory

import (
	"bytes"
	"context"
	"maps"
	"slices"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// CreateRecord implements greep.RecordStore.
func (s *Store) CreateRecord(ctx context.Context, kind, id string, data []byte) error {
	if err := s.intercepted("CreateRecord"); err != nil {
		return err
	}
	if err := cache.CheckRecord(kind, id, data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[kind][id]; ok {
		return greep.Errorf(greep.ECONFLICT, "record %s/%s already exists", kind, id)
	}
	s.putRecord(kind, id, data)
	return nil
}

// PutRecord implements greep.RecordStore.
func (s *Store) PutRecord(ctx context.Context, kind, id string, data []byte) error {
	if err := s.intercepted("PutRecord"); err != nil {
		return err
	}
	if err := cache.CheckRecord(kind, id, data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putRecord(kind, id, data)
	return nil
}

// putRecord stores a copy, an empty record as an empty value, so Records hands fn a
// non-nil slice for every record as the other stores do. Called with mu held.
func (s *Store) putRecord(kind, id string, data []byte) {
	if s.records[kind] == nil {
		s.records[kind] = map[string][]byte{}
	}
	s.records[kind][id] = append([]byte{}, data...)
}

// DeleteRecord implements greep.RecordStore.
func (s *Store) DeleteRecord(ctx context.Context, kind, id string) error {
	if err := s.intercepted("DeleteRecord"); err != nil {
		return err
	}
	if err := cache.CheckRecord(kind, id, nil); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records[kind], id)
	return nil
}

// DeleteRecords implements greep.RecordStore.
func (s *Store) DeleteRecords(ctx context.Context, kind string, ids []string) error {
	if err := s.intercepted("DeleteRecords"); err != nil {
		return err
	}
	for _, id := range ids {
		if err := cache.CheckRecord(kind, id, nil); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.records[kind], id)
	}
	return nil
}

// Records implements greep.RecordStore. fn runs on a copy taken at the start, without
// the store's lock, so it may call the store (to delete the record, for example).
func (s *Store) Records(ctx context.Context, kind string, fn func(id string, data []byte) error) error {
	if err := s.intercepted("Records"); err != nil {
		return err
	}
	if err := cache.CheckKey("record kind", kind); err != nil {
		return err
	}
	s.mu.RLock()
	ids := slices.Sorted(maps.Keys(s.records[kind]))
	data := make([][]byte, len(ids))
	for i, id := range ids {
		data[i] = bytes.Clone(s.records[kind][id])
	}
	s.mu.RUnlock()
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(id, data[i]); err != nil {
			return err
		}
	}
	return nil
}
