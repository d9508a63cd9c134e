package datastore

import (
	"context"

	ds "cloud.google.com/go/datastore"

	"github.com/greephq/greep/pkg/greep"
)

// Every write goes through these, so WriteStats counts each commit and each mutation
// (Datastore bills an entity write per mutation).

func (s *Store) put(ctx context.Context, k *ds.Key, v any) (*ds.Key, error) {
	s.writes.Tx(1)
	return s.client.Put(ctx, k, v)
}

func (s *Store) putMulti(ctx context.Context, keys []*ds.Key, src any) ([]*ds.Key, error) {
	s.writes.Tx(len(keys))
	return s.client.PutMulti(ctx, keys, src)
}

func (s *Store) delete(ctx context.Context, k *ds.Key) error {
	s.writes.Tx(1)
	return s.client.Delete(ctx, k)
}

func (s *Store) deleteMulti(ctx context.Context, keys []*ds.Key) error {
	s.writes.Tx(len(keys))
	return s.client.DeleteMulti(ctx, keys)
}

func (s *Store) txPut(tx *ds.Transaction, k *ds.Key, v any) (*ds.PendingKey, error) {
	s.writes.Entities(1)
	return tx.Put(k, v)
}

func (s *Store) txPutMulti(tx *ds.Transaction, keys []*ds.Key, src any) ([]*ds.PendingKey, error) {
	s.writes.Entities(len(keys))
	return tx.PutMulti(keys, src)
}

func (s *Store) txDelete(tx *ds.Transaction, k *ds.Key) error {
	s.writes.Entities(1)
	return tx.Delete(k)
}

func (s *Store) txDeleteMulti(tx *ds.Transaction, keys []*ds.Key) error {
	s.writes.Entities(len(keys))
	return tx.DeleteMulti(keys)
}

// WriteStats reports the commits (each attempt of a transaction counts) and mutations
// sent so far.
func (s *Store) WriteStats() greep.WriteStats { return s.writes.Stats() }
