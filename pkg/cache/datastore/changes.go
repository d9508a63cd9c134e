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
// head cursor and the pruned point; the records are Change entities under it, one per up
// to changeChunkBytes of records, keyed by the last cursor they hold. A transaction that
// changes the cache stages its records beside its groups, and the sequencer
// (sequencer.go) numbers them into the log: only it writes the head, so a cursor is never
// seen before every smaller one, and commits to different groups never contend on the
// log. Commits that change nothing a reader can see (a resync of an unchanged group)
// stage nothing.

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

// encodedChanges is a run of records, changes[lo:hi], compressed into one entity's data.
type encodedChanges struct {
	lo, hi int
	data   []byte
}

// encodeChanges cuts changes into runs of at most changeChunkBytes of JSON and
// compresses each.
func encodeChanges(changes []greep.Change) ([]encodedChanges, error) {
	var (
		out   []encodedChanges
		batch []json.RawMessage
		size  int
		start int // index in changes of batch[0]
	)
	flush := func() error {
		data, err := compress(batch)
		if err != nil {
			return err
		}
		out = append(out, encodedChanges{lo: start, hi: start + len(batch), data: data})
		start, batch, size = start+len(batch), nil, 0
		return nil
	}
	for _, c := range changes {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		if len(batch) > 0 && size+len(b) > changeChunkBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch, size = append(batch, b), size+len(b)
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeChanges writes numbered changes into tx as Change entities under the log.
func (s *Store) writeChanges(tx *ds.Transaction, changes []greep.Change) error {
	chunks, err := encodeChanges(changes)
	if err != nil {
		return err
	}
	keys := make([]*ds.Key, len(chunks))
	ents := make([]*changeEntity, len(chunks))
	for i, c := range chunks {
		first, last := changes[c.lo].Cursor, changes[c.hi-1].Cursor
		keys[i] = s.changeKey(last)
		ents[i] = &changeEntity{First: int64(first), Time: changes[c.lo].Time, Data: c.data}
	}
	_, err = s.txPutMulti(tx, keys, ents)
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

// runChangeTx is runTx for a transaction that may stage change records: fn returns how
// many, and the sequencer takes them once the commit is through.
func (s *Store) runChangeTx(ctx context.Context, fn func(tx *ds.Transaction) (int, error)) error {
	n := 0
	err := s.runTx(ctx, func(tx *ds.Transaction) error {
		var err error
		n, err = fn(tx)
		return err
	})
	if err == nil && n > 0 {
		s.staged()
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

// ChangeLog implements greep.ChangeStore. What this process staged is in the log first.
func (s *Store) ChangeLog(ctx context.Context) (greep.ChangeLog, error) {
	if err := s.flush(ctx); err != nil {
		return greep.ChangeLog{}, err
	}
	l, err := s.changeLog(func(k *ds.Key, v any) error { return s.client.Get(ctx, k, v) })
	return l, wrap(err, "change log")
}

// Changes implements greep.ChangeStore. The log and the records are read in one
// read-only transaction, so a prune cannot remove records between the retention check
// and the read. What this process staged is in the log first.
func (s *Store) Changes(ctx context.Context, q greep.ChangeQuery) ([]greep.Change, uint64, error) {
	if err := s.flush(ctx); err != nil {
		return nil, 0, err
	}
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
	if err := s.flush(ctx); err != nil { // what this process staged is prunable too
		return 0, err
	}
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

// ChangeSignal implements greep.ChangeStore. It hears the sequencer's rounds in this
// process, which follow this process's commits; a long poll on another instance re-reads
// the feed now and then (pkg/api).
func (s *Store) ChangeSignal() <-chan struct{} { return s.changed.Wait() }
