package bolt

import (
	"context"
	"encoding/binary"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// Commit implements greep.Committer: the whole unit of work in one Update, so a task
// costs one fsync however many things it records. Units committed at the same time share
// one transaction (commitQueue): each still lands whole or not at all.
func (s *Store) Commit(ctx context.Context, w *greep.Writes) error {
	return s.CommitAll(ctx, []*greep.Writes{w})[0]
}

// CommitAll commits the units ws in one transaction where it can, as the local
// dispatcher's gathered runs ask: each lands whole or not at all, and errs[i] is ws[i]'s.
func (s *Store) CommitAll(ctx context.Context, ws []*greep.Writes) (errs []error) {
	errs = make([]error, len(ws))
	var cs []*pendingCommit
	var ids []string
	for i, w := range ws {
		if w.Empty() {
			continue
		}
		c, err := prepare(w)
		if err != nil {
			errs[i] = err
			continue
		}
		c.index = i
		cs = append(cs, c)
		for _, m := range w.Members {
			ids = append(ids, m.GroupID)
		}
	}
	if len(cs) == 0 {
		return errs
	}
	s.cache.startWrite(ids...)
	defer s.cache.endWrite(ids...) // after the commit: see readCache
	s.commits.do(cs, s.commitBatch)
	for _, c := range cs {
		errs[c.index] = c.err
	}
	return errs
}

// prepare checks w and normalizes its member lists.
func prepare(w *greep.Writes) (*pendingCommit, error) {
	if err := cache.CheckWrites(w); err != nil {
		return nil, err
	}
	c := &pendingCommit{w: w, members: make([][]greep.Member, len(w.Members))}
	for i, m := range w.Members {
		ms, err := cache.NormalizeMembers(m.Members)
		if err != nil {
			return nil, err
		}
		c.members[i] = ms
	}
	return c, nil
}

// commitBatch commits the batch's units in one transaction, in the order they came. If
// any of them fails, the transaction keeps nothing and each unit is committed alone, so
// that a bad unit fails alone and the others land as they would have by themselves.
func (s *Store) commitBatch(batch []*pendingCommit) {
	if len(batch) > 1 {
		err := s.updateChanges(func(tx *bbolt.Tx) ([]greep.Change, error) {
			var changes []greep.Change
			for _, c := range batch {
				ch, err := s.apply(tx, c)
				if err != nil {
					return nil, err
				}
				changes = append(changes, ch...)
			}
			return changes, nil
		})
		if err == nil {
			return
		}
	}
	for _, c := range batch {
		c.err = s.updateChanges(func(tx *bbolt.Tx) ([]greep.Change, error) { return s.apply(tx, c) })
	}
}

// apply writes one unit of work in tx and returns the changes it makes.
func (s *Store) apply(tx *bbolt.Tx, c *pendingCommit) ([]greep.Change, error) {
	w := c.w
	var changes []greep.Change
	for i, m := range w.Members {
		ch, err := s.replaceMembers(tx, m.GroupID, nil, c.members[i], m.ETag, m.SyncedAt, m.Cause)
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch...)
	}
	counters := tx.Bucket(bCounters)
	for _, m := range w.Marks {
		b, err := tx.Bucket(bRecords).CreateBucketIfNotExists([]byte(m.Kind))
		if err != nil {
			return nil, err
		}
		if b.Get([]byte(m.ID)) != nil {
			continue
		}
		if err := b.Put([]byte(m.ID), nonNil(m.Data)); err != nil {
			return nil, err
		}
		if m.Counter != "" {
			if err := addCount(counters, m.Counter, m.Delta); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range w.Counts {
		if err := addCount(counters, n.Name, n.Delta); err != nil {
			return nil, err
		}
	}
	for _, r := range w.Puts {
		b, err := tx.Bucket(bRecords).CreateBucketIfNotExists([]byte(r.Kind))
		if err != nil {
			return nil, err
		}
		if err := b.Put([]byte(r.ID), nonNil(r.Data)); err != nil {
			return nil, err
		}
	}
	for _, r := range w.Deletes {
		if b := tx.Bucket(bRecords).Bucket([]byte(r.Kind)); b != nil {
			if err := b.Delete([]byte(r.ID)); err != nil {
				return nil, err
			}
		}
	}
	return changes, nil
}

func addCount(b *bbolt.Bucket, name string, delta int64) error {
	cur, err := counter(b, name)
	if err != nil {
		return err
	}
	return b.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(cur+delta)))
}
