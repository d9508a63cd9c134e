package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// The change feed: one record per key, numbered by the changes bucket's sequence. bbolt
// has one writer at a time, so cursor order is commit order, and a record commits with
// the write it describes.

var keyPruned = []byte("pruned")

// appendOnlyFill is how full bbolt fills the pages of a bucket whose keys only grow.
const appendOnlyFill = 1.0

func cursorKey(c uint64) []byte { return binary.BigEndian.AppendUint64(nil, c) }

// updateChanges runs fn in a write transaction and appends the change records it
// returns in the same transaction; waiters hear of them once it committed.
func (s *Store) updateChanges(fn func(tx *bbolt.Tx) ([]greep.Change, error)) error {
	n := 0
	err := s.update(func(tx *bbolt.Tx) error {
		changes, err := fn(tx)
		if err != nil {
			return err
		}
		n = len(changes)
		return appendChanges(tx, changes)
	})
	if err == nil && n > 0 {
		s.changed.Notify()
	}
	return err
}

func appendChanges(tx *bbolt.Tx, changes []greep.Change) error {
	if len(changes) == 0 {
		return nil
	}
	b := tx.Bucket(bChanges)
	// Keys only ever grow: full pages, where bbolt's default half-full split would leave
	// every page of the feed half empty and split the last page every other commit.
	b.FillPercent = appendOnlyFill
	if err := b.SetSequence(cache.Number(changes, b.Sequence())); err != nil {
		return err
	}
	for _, c := range changes {
		data, err := cache.AppendChangeJSON(nil, c)
		if err != nil {
			return fmt.Errorf("encode change: %w", err)
		}
		if err := putEncoded(b, cursorKey(c.Cursor), "change", data); err != nil {
			return err
		}
	}
	return nil
}

func changeLog(tx *bbolt.Tx) greep.ChangeLog {
	l := greep.ChangeLog{Head: tx.Bucket(bChanges).Sequence()}
	if v := tx.Bucket(bChangeMeta).Get(keyPruned); len(v) == 8 {
		l.Pruned = binary.BigEndian.Uint64(v)
	}
	return l
}

// ChangeLog implements greep.ChangeStore.
func (s *Store) ChangeLog(ctx context.Context) (greep.ChangeLog, error) {
	var l greep.ChangeLog
	err := s.view(func(tx *bbolt.Tx) error {
		l = changeLog(tx)
		return nil
	})
	return l, err
}

// Changes implements greep.ChangeStore.
func (s *Store) Changes(ctx context.Context, q greep.ChangeQuery) ([]greep.Change, uint64, error) {
	limit := cache.PageSize(greep.Page{Limit: q.Limit})
	out := []greep.Change{}
	next := q.Since
	err := s.view(func(tx *bbolt.Tx) error {
		if err := cache.CheckSince(q.Since, changeLog(tx)); err != nil {
			return err
		}
		c := tx.Bucket(bChanges).Cursor()
		scanned := 0
		for k, v := c.Seek(cursorKey(q.Since + 1)); k != nil && len(out) < limit && scanned < limit*cache.ScanFactor; k, v = c.Next() {
			scanned++
			var ch greep.Change
			if err := json.Unmarshal(v, &ch); err != nil {
				return greep.Errorf(greep.EINTERNAL, "decode change %x: %v", k, err)
			}
			next = ch.Cursor
			if cache.MatchesGroup(ch, q.Group) {
				out = append(out, ch)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, next, nil
}

// PruneChanges implements greep.ChangeStore.
func (s *Store) PruneChanges(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n := 0
	err := s.update(func(tx *bbolt.Tx) error {
		n = 0
		b := tx.Bucket(bChanges)
		c := b.Cursor()
		var last uint64
		for k, v := c.First(); k != nil && n < limit; k, v = c.Next() {
			var ch struct {
				Time time.Time `json:"time"`
			}
			if err := json.Unmarshal(v, &ch); err != nil {
				return greep.Errorf(greep.EINTERNAL, "decode change %x: %v", k, err)
			}
			if !ch.Time.Before(cutoff) {
				break
			}
			last = binary.BigEndian.Uint64(k)
			n++
		}
		if n == 0 {
			return nil
		}
		// Deleting under a cursor skips keys in bbolt; delete from the front instead.
		for i := 0; i < n; i++ {
			k, _ := b.Cursor().First()
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bChangeMeta).Put(keyPruned, cursorKey(last))
	})
	return n, err
}

// ChangeSignal implements greep.ChangeStore.
func (s *Store) ChangeSignal() <-chan struct{} { return s.changed.Wait() }
