package datastore

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	ds "cloud.google.com/go/datastore"
	"google.golang.org/api/iterator"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// The change feed (docs/storage.md, "The change feed"). One ChangeLog entity holds the
// head cursor; every transaction that changes the cache and has records to write reads
// it, numbers its records after the head, and writes the new head and the records (as
// Change entities under the log, one per up to changeChunkBytes of records, keyed by the
// last cursor they hold) in the same commit as the change. Two such transactions both
// write the log entity, so Datastore serialises them: cursor order is commit order, and a
// cursor is never seen before every smaller one is. The price is that change-writing
// commits of the whole tenant are serial on one entity (see docs/storage.md); commits that
// change nothing a reader can see (a resync of an unchanged group) do not touch it.

const (
	kindChangeLog = "ChangeLog"
	kindChange    = "Change"
	// changeChunkBytes bounds the JSON of one Change entity before compression, so the
	// gzip-compressed chunk stays under the entity limit whatever the records hold.
	changeChunkBytes = 768 << 10
)

type changeLogEntity struct {
	Head   int64 `datastore:",noindex"`
	Pruned int64 `datastore:",noindex"`
}

type changeEntity struct {
	First int64     `datastore:",noindex"`
	Time  time.Time `datastore:",noindex"`
	Data  []byte    `datastore:",noindex"` // gzip of a JSON array of greep.Change
}

func (s *Store) changeLogKey() *ds.Key { return s.key(kindChangeLog, "log", nil) }

func (s *Store) changeKey(last uint64) *ds.Key {
	return s.idKey(kindChange, int64(last), s.changeLogKey())
}

// appendChanges numbers changes after the head and writes them with the new head in tx.
func (s *Store) appendChanges(tx *ds.Transaction, changes []greep.Change) error {
	if len(changes) == 0 {
		return nil
	}
	var l changeLogEntity
	if err := tx.Get(s.changeLogKey(), &l); err != nil && !errors.Is(err, ds.ErrNoSuchEntity) {
		return err
	}
	l.Head = int64(cache.Number(changes, uint64(l.Head)))
	if _, err := s.txPut(tx, s.changeLogKey(), &l); err != nil {
		return err
	}
	var (
		keys  []*ds.Key
		ents  []*changeEntity
		batch []json.RawMessage
		size  int
		start int // index in changes of batch[0]
	)
	flush := func() error {
		data, err := compress(batch)
		if err != nil {
			return err
		}
		first, last := changes[start].Cursor, changes[start+len(batch)-1].Cursor
		keys = append(keys, s.changeKey(last))
		ents = append(ents, &changeEntity{First: int64(first), Time: changes[start].Time, Data: data})
		start, batch, size = start+len(batch), nil, 0
		return nil
	}
	for _, c := range changes {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if len(batch) > 0 && size+len(b) > changeChunkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		batch, size = append(batch, b), size+len(b)
	}
	if err := flush(); err != nil {
		return err
	}
	_, err := s.txPutMulti(tx, keys, ents)
	return err
}

func compress(records []json.RawMessage) ([]byte, error) {
	raw, err := json.Marshal(records)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), cache.CheckSize("change records", buf.Len())
}

func decompress(data []byte) ([]greep.Change, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, greep.Errorf(greep.EINTERNAL, "change records are corrupt: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, greep.Errorf(greep.EINTERNAL, "change records are corrupt: %v", err)
	}
	var out []greep.Change
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, greep.Errorf(greep.EINTERNAL, "change records are corrupt: %v", err)
	}
	return out, nil
}

// runChangeTx is runTx for a transaction that may write change records: fn returns how
// many, and waiters in this process hear of them once the commit is through.
func (s *Store) runChangeTx(ctx context.Context, fn func(tx *ds.Transaction) (int, error)) error {
	n := 0
	err := s.runTx(ctx, func(tx *ds.Transaction) error {
		var err error
		n, err = fn(tx)
		return err
	})
	if err == nil && n > 0 {
		s.changed.Notify()
	}
	return err
}

func (s *Store) changeLog(get func(*ds.Key, any) error) (greep.ChangeLog, error) {
	var l changeLogEntity
	if err := get(s.changeLogKey(), &l); err != nil && !errors.Is(err, ds.ErrNoSuchEntity) {
		return greep.ChangeLog{}, err
	}
	return greep.ChangeLog{Head: uint64(l.Head), Pruned: uint64(l.Pruned)}, nil
}

// ChangeLog implements greep.ChangeStore.
func (s *Store) ChangeLog(ctx context.Context) (greep.ChangeLog, error) {
	l, err := s.changeLog(func(k *ds.Key, v any) error { return s.client.Get(ctx, k, v) })
	return l, wrap(err, "change log")
}

// Changes implements greep.ChangeStore. The log and the records are read in one
// read-only transaction, so a prune cannot remove records between the retention check
// and the read.
func (s *Store) Changes(ctx context.Context, q greep.ChangeQuery) ([]greep.Change, uint64, error) {
	limit := cache.PageSize(greep.Page{Limit: q.Limit})
	var (
		out  []greep.Change
		next uint64
	)
	err := s.readOnly(ctx, func(tx *ds.Transaction) error {
		out, next = []greep.Change{}, q.Since
		l, err := s.changeLog(tx.Get)
		if err != nil {
			return err
		}
		if err := cache.CheckSince(q.Since, l); err != nil {
			return err
		}
		dq := s.query(kindChange).Ancestor(s.changeLogKey()).Order("__key__").Transaction(tx)
		if q.Since > 0 { // cursor 0 has no key: it is before the first record
			dq = dq.FilterField("__key__", ">", s.changeKey(q.Since))
		}
		it := s.client.Run(ctx, dq)
		scanned := 0
		for len(out) < limit && scanned < limit*cache.ScanFactor {
			var e changeEntity
			if _, err := it.Next(&e); errors.Is(err, iterator.Done) {
				return nil
			} else if err != nil {
				return err
			}
			records, err := decompress(e.Data)
			if err != nil {
				return err
			}
			for _, c := range records {
				if c.Cursor <= q.Since {
					continue
				}
				if len(out) == limit || scanned == limit*cache.ScanFactor {
					return nil
				}
				scanned++
				next = c.Cursor
				if cache.MatchesGroup(c, q.Group) {
					out = append(out, c)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, wrap(err, "changes")
	}
	return out, next, nil
}

// readOnly runs f in a read-only transaction and rolls it back rather than committing
// it: there is nothing to commit, and the Firestore emulator refuses a read-only
// transaction's commit ("Cannot modify entities in a read-only transaction").
func (s *Store) readOnly(ctx context.Context, f func(tx *ds.Transaction) error) error {
	tx, err := s.client.NewTransaction(ctx, ds.ReadOnly)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return f(tx)
}

// PruneChanges implements greep.ChangeStore. It removes whole Change entities (all of a
// commit's records share its time) and moves the log's pruned point in one transaction.
func (s *Store) PruneChanges(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	var ents []changeEntity
	keys, err := s.client.GetAll(ctx, s.query(kindChange).Ancestor(s.changeLogKey()).Order("__key__").Limit(maxBatch-1), &ents)
	if err != nil {
		return 0, wrap(err, "prune changes")
	}
	var (
		drop []*ds.Key
		n    int
		last int64
	)
	for i, e := range ents {
		if !e.Time.Before(cutoff) || n >= limit {
			break
		}
		drop = append(drop, keys[i])
		n += int(keys[i].ID - e.First + 1)
		last = keys[i].ID
	}
	if len(drop) == 0 {
		return 0, nil
	}
	err = s.runTx(ctx, func(tx *ds.Transaction) error {
		var l changeLogEntity
		if err := tx.Get(s.changeLogKey(), &l); err != nil {
			return err
		}
		l.Pruned = max(l.Pruned, last)
		if _, err := s.txPut(tx, s.changeLogKey(), &l); err != nil {
			return err
		}
		return s.txDeleteMulti(tx, drop)
	})
	if err != nil {
		return 0, wrap(err, "prune changes")
	}
	return n, nil
}

// ChangeSignal implements greep.ChangeStore. It hears this process's commits only; a
// long poll on another instance re-reads the feed now and then (pkg/api).
func (s *Store) ChangeSignal() <-chan struct{} { return s.changed.Wait() }
