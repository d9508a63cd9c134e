package datastore

import (
	"context"
	"errors"

	ds "cloud.google.com/go/datastore"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// Commit implements greep.Committer. The member snapshots go first, each by
// ReplaceMembers' own commits (a snapshot is chunked, and may be larger than one commit
// allows); then the markers, counts and records in one transaction. A failure between
// the two leaves the snapshots in and nothing else: the task runs again, swaps the same
// lists in again, and counts once.
func (s *Store) Commit(ctx context.Context, w *greep.Writes) error {
	if w.Empty() {
		return nil
	}
	if err := cache.CheckWrites(w); err != nil {
		return err
	}
	for _, m := range w.Members {
		if err := s.ReplaceMembers(greep.WithCause(ctx, m.Cause), m.GroupID, m.Members, m.ETag, m.SyncedAt); err != nil {
			return err
		}
	}
	if len(w.Marks)+len(w.Counts)+len(w.Puts)+len(w.Deletes) == 0 {
		return nil
	}
	if len(w.Marks)*2+len(w.Counts)+len(w.Puts)+len(w.Deletes) > maxBatch {
		return s.spill(ctx, w)
	}
	marks := make([]*ds.Key, len(w.Marks))
	for i, m := range w.Marks {
		marks[i] = s.recordKey(m.Kind, m.ID)
	}
	// One shard per counter, picked before the transaction so a retried attempt writes
	// the same one; deltas to one counter are summed (a transaction puts a key once).
	deltas := map[string]int64{}
	var names []string
	add := func(name string, d int64) {
		if _, ok := deltas[name]; !ok {
			names = append(names, name)
		}
		deltas[name] += d
	}
	for _, c := range w.Counts {
		add(c.Name, c.Delta)
	}
	for _, m := range w.Marks {
		if m.Counter != "" {
			add(m.Counter, 0) // its shard is read; the delta is added if the mark is new
		}
	}
	shards := make([]*ds.Key, len(names))
	for i, n := range names {
		shards[i] = s.shardKeys(n)[s.nextShard()]
	}
	err := s.runTx(ctx, func(tx *ds.Transaction) error {
		exists := make([]bool, len(marks))
		if len(marks) > 0 {
			err := tx.GetMulti(marks, make([]blobEntity, len(marks)))
			if notFoundOK(err) != nil {
				return err
			}
			var me ds.MultiError
			errors.As(err, &me)
			for i := range marks {
				exists[i] = me == nil || me[i] == nil
			}
		}
		sum := make(map[string]int64, len(deltas))
		for n, d := range deltas {
			sum[n] = d
		}
		var putKeys []*ds.Key
		var putEnts []any
		made := map[greep.RecordKey]bool{} // a mark named twice in one unit counts once
		for i, m := range w.Marks {
			k := greep.RecordKey{Kind: m.Kind, ID: m.ID}
			if exists[i] || made[k] {
				continue
			}
			made[k] = true
			putKeys, putEnts = append(putKeys, marks[i]), append(putEnts, &blobEntity{Data: m.Data})
			if m.Counter != "" {
				sum[m.Counter] += m.Delta
			}
		}
		cur := make([]shardEntity, len(shards))
		if len(shards) > 0 {
			if err := notFoundOK(tx.GetMulti(shards, cur)); err != nil {
				return err
			}
		}
		for i, n := range names {
			if sum[n] == 0 {
				continue
			}
			cur[i].N += sum[n]
			putKeys, putEnts = append(putKeys, shards[i]), append(putEnts, &cur[i])
		}
		for _, r := range w.Puts {
			putKeys, putEnts = append(putKeys, s.recordKey(r.Kind, r.ID)), append(putEnts, &blobEntity{Data: r.Data})
		}
		if len(putKeys) > 0 {
			if _, err := s.txPutMulti(tx, putKeys, putEnts); err != nil {
				return err
			}
		}
		if len(w.Deletes) > 0 {
			keys := make([]*ds.Key, len(w.Deletes))
			for i, r := range w.Deletes {
				keys[i] = s.recordKey(r.Kind, r.ID)
			}
			return s.txDeleteMulti(tx, keys)
		}
		return nil
	})
	return wrap(err, "commit")
}

// spill commits a unit too large for one commit (a groups page that enqueues 200 member
// reads, locally) piece by piece: the markers with their counts, the counts, the records,
// and the deletes (a task's completion) last, so a failure part-way leaves the task to
// run again, and its markers keep it from counting twice.
func (s *Store) spill(ctx context.Context, w *greep.Writes) error {
	for _, m := range w.Marks {
		err := s.CreateRecord(ctx, m.Kind, m.ID, m.Data)
		if errors.Is(err, greep.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if m.Counter != "" {
			if _, err := s.AddCount(ctx, m.Counter, m.Delta); err != nil {
				return err
			}
		}
	}
	for _, c := range w.Counts {
		if _, err := s.AddCount(ctx, c.Name, c.Delta); err != nil {
			return err
		}
	}
	keys := make([]*ds.Key, len(w.Puts))
	ents := make([]blobEntity, len(w.Puts))
	for i, r := range w.Puts {
		keys[i], ents[i] = s.recordKey(r.Kind, r.ID), blobEntity{Data: r.Data}
	}
	err := inBatches(ctx, len(keys), maxBatch, func(ctx context.Context, lo, hi int) error {
		_, err := s.putMulti(ctx, keys[lo:hi], ents[lo:hi])
		return err
	})
	if err != nil {
		return wrap(err, "commit")
	}
	keys = keys[:0]
	for _, r := range w.Deletes {
		keys = append(keys, s.recordKey(r.Kind, r.ID))
	}
	return wrap(inBatches(ctx, len(keys), maxBatch, func(ctx context.Context, lo, hi int) error {
		return s.deleteMulti(ctx, keys[lo:hi])
	}), "commit")
}
