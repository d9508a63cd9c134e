// Package bolt is Greep's embedded store: the whole cache in one bbolt file (under
// greep local's --data), for local use and tests. It implements greep.Store.
//
// bbolt commits with fsync and copy-on-write pages, so a killed process loses nothing
// that was committed, and every method is one transaction: a group's member snapshot is
// one value, and the reverse index (member → groups) is held in memory, rebuilt from the
// snapshots at Open and changed under a lock held across each commit
// (cache.MemberIndex), so readers see the old list or the new one, never a mix. Decoded
// snapshots are kept in an exact in-process read cache (readcache.go), so the read API's
// hot path costs a map lookup and a copy; small state documents likewise (statecache.go). A file that is not a bbolt database, or is
// truncated or corrupt, gives an error at Open (or from the call that meets the damage),
// never a panic.
//
// Layout (one bucket each):
//
//	groups      id -> Group JSON
//	byemail     folded email \x00 id -> ""        (lookup and listing order)
//	byalias     folded alias \x00 id -> ""
//	members     group id -> member version and snapshot (membersvalue.go)
//	users       id -> User JSON;  useremail  folded email -> id;  useralias  folded alias -> id
//	settings    folded group email -> GroupSettings JSON
//	events      time \x00 id -> Event JSON;  eventids  id -> events key;
//	eventgroup  folded group \x00 time \x00 id -> ""
//	findings    id -> Finding JSON;  findingidx  "g\x00" group \x00 id, "s\x00" state \x00 id -> ""
//	state       name -> document;  counters  name -> big-endian int64
//	records     kind (nested bucket): id -> data
//	changes     big-endian cursor -> Change JSON (the bucket's sequence is the head);
//	changemeta  "pruned" -> big-endian cursor
package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

var (
	bGroups     = []byte("groups")
	bByEmail    = []byte("byemail")
	bByAlias    = []byte("byalias")
	bMembers    = []byte("members")
	bUsers      = []byte("users")
	bUserEmail  = []byte("useremail")
	bUserAlias  = []byte("useralias")
	bSettings   = []byte("settings")
	bEvents     = []byte("events")
	bEventIDs   = []byte("eventids")
	bEventGroup = []byte("eventgroup")
	bFindings   = []byte("findings")
	bFindingIdx = []byte("findingidx")
	bState      = []byte("state")
	bCounters   = []byte("counters")
	bRecords    = []byte("records")
	bChanges    = []byte("changes")
	bChangeMeta = []byte("changemeta")

	// bStoredMemberOf held the reverse index before it moved into memory; Open deletes
	// it from files that have it.
	bStoredMemberOf = []byte("memberof")

	allBuckets = [][]byte{bGroups, bByEmail, bByAlias, bMembers, bUsers, bUserEmail, bUserAlias,
		bSettings, bEvents, bEventIDs, bEventGroup, bFindings, bFindingIdx, bState, bCounters, bRecords, bChanges, bChangeMeta}
)

// Store is the embedded store. Its methods are safe for concurrent use.
type Store struct {
	db      *bbolt.DB
	cache   readCache
	states  stateCache
	index   cache.MemberIndex
	changed cache.Signal
	writes  cache.WriteCounter
	commits commitQueue
	// indexing is the index's deltas of the write transaction in progress: bbolt runs
	// one at a time, and update hands them to the index at its commit.
	indexing []cache.IndexDelta
}

var _ greep.Store = (*Store)(nil)

// openTimeout bounds the wait for the file lock: a second process on the same file gets
// an error instead of hanging.
const openTimeout = 2 * time.Second

// Open opens (creating if needed) the store in the file at path.
func Open(path string) (s *Store, err error) {
	defer func() {
		// bbolt checks its meta pages, but some damage only shows as a panic.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("open store %s: the file is corrupt (%v)", path, r)
		}
	}()
	existed, err := checkExisting(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: openTimeout})
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return nil, fmt.Errorf("open store %s: another process holds it", path)
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrVersionMismatch), errors.Is(err, bbolt.ErrChecksum):
		return nil, fmt.Errorf("open store %s: not a greep store or corrupt: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s = &Store{db: db}
	if existed {
		if err := s.checkLayout(path); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := s.check(path); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadIndex(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// loadIndex builds the reverse index from the snapshots.
func (s *Store) loadIndex() error {
	return s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMembers).ForEach(func(k, v []byte) error {
			_, ms, err := decodeMembers(v)
			if err != nil {
				return fmt.Errorf("group %s: %w", k, err)
			}
			s.index.Load(cache.SnapshotDelta(string(k), nil, ms))
			return nil
		})
	})
}

// check refuses a truncated file (pages past its end would fault when touched, which Go
// cannot recover from) and creates the buckets.
func (s *Store) check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	return s.update(func(tx *bbolt.Tx) error {
		if size := tx.Size(); fi.Size() < size {
			return fmt.Errorf("open store %s: the file is truncated (%d bytes; its pages need %d)", path, fi.Size(), size)
		}
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("open store %s: bucket %s: %w", path, b, err)
			}
		}
		if tx.Bucket(bStoredMemberOf) != nil {
			return tx.DeleteBucket(bStoredMemberOf)
		}
		return nil
	})
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// view and update run fn in a transaction, turning a panic (bbolt's reaction to some
// corrupt pages) into an error. bbolt rolls the transaction back as the panic unwinds.
func (s *Store) view(fn func(*bbolt.Tx) error) (err error) {
	defer recoverCorrupt(&err)
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bbolt.Tx) error) (err error) {
	defer recoverCorrupt(&err)
	s.writes.Tx(0)
	tx, err := s.db.Begin(true)
	if err != nil {
		return err
	}
	// Rolls back a failed or panicking fn; after a commit it is a no-op.
	defer func() { _ = tx.Rollback() }()
	s.indexing = nil
	if err := fn(tx); err != nil {
		return err
	}
	// Taken before the commit: the next writer may begin as soon as it ends.
	deltas := s.indexing
	return s.index.Commit(tx.Commit, deltas)
}

// WriteStats reports the write transactions (Update calls) and the pages they wrote.
func (s *Store) WriteStats() greep.WriteStats {
	st := s.writes.Stats()
	db := s.db.Stats()
	st.PageWrites = db.TxStats.GetWrite()
	return st
}

func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = greep.Errorf(greep.EINTERNAL, "embedded store is corrupt: %v", r)
	}
}

func key(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

func putJSON(b *bbolt.Bucket, k []byte, what string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	return putEncoded(b, k, what, data)
}

// putEncoded puts a value encoded already, within the store's size limit.
func putEncoded(b *bbolt.Bucket, k []byte, what string, data []byte) error {
	if err := cache.CheckSize(what, len(data)); err != nil {
		return err
	}
	return b.Put(k, data)
}

func getJSON(b *bbolt.Bucket, k []byte, what string, v any) (bool, error) {
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, greep.Errorf(greep.EINTERNAL, "decode %s %q: %v", what, k, err)
	}
	return true, nil
}

// Paging tokens are the last key returned, base64-encoded: the next page seeks past it,
// so items written or deleted between pages neither repeat nor shift the listing.
func encodeToken(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

func decodeToken(t string) ([]byte, error) {
	if t == "" {
		return nil, nil
	}
	k, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(k) == 0 {
		return nil, greep.Errorf(greep.EINVALID, "invalid page token")
	}
	return k, nil
}

// scan walks the keys of b that start with prefix, from just after the token's key (or
// from start, when there is no token), calling fn until it returns false. It returns
// the token for the page after the last key fn accepted, when more keys follow.
func scan(b *bbolt.Bucket, prefix, start []byte, token string, limit int, fn func(k, v []byte) (bool, error)) (string, error) {
	after, err := decodeToken(token)
	if err != nil {
		return "", err
	}
	if after != nil && !bytes.HasPrefix(after, prefix) {
		return "", greep.Errorf(greep.EINVALID, "invalid page token")
	}
	c := b.Cursor()
	var k, v []byte
	switch {
	case after != nil:
		k, v = c.Seek(after)
		if bytes.Equal(k, after) {
			k, v = c.Next()
		}
	case start != nil:
		k, v = c.Seek(start)
	default:
		k, v = c.Seek(prefix)
	}
	n := 0
	var last []byte
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if n == limit {
			return encodeToken(last), nil
		}
		ok, err := fn(k, v)
		if err != nil {
			return "", err
		}
		if ok {
			n++
			last = k
		}
	}
	return "", nil
}

// Groups.

// PutGroups implements greep.GroupStore.
func (s *Store) PutGroups(ctx context.Context, groups []greep.Group) error {
	for _, g := range groups {
		if err := cache.CheckGroup(g); err != nil {
			return err
		}
	}
	cause := greep.CauseOf(ctx)
	return s.updateChanges(func(tx *bbolt.Tx) ([]greep.Change, error) {
		gb, eb, ab := tx.Bucket(bGroups), tx.Bucket(bByEmail), tx.Bucket(bByAlias)
		var changes []greep.Change
		for _, g := range groups {
			var old greep.Group
			found, err := getGroupRecord(gb, []byte(g.ID), &old)
			if err != nil {
				return nil, err
			}
			prev := &old
			if found {
				g.MembersSyncedAt, g.MembersETag = old.MembersSyncedAt, old.MembersETag
				if err := unindexGroup(eb, ab, old); err != nil {
					return nil, err
				}
			} else {
				prev = nil
			}
			if ch, ok := cache.GroupChange(prev, g, cause); ok {
				changes = append(changes, ch)
			}
			if err := putGroupRecord(gb, g); err != nil {
				return nil, err
			}
			if err := eb.Put(key(cache.FoldEmail(g.Email), g.ID), nil); err != nil {
				return nil, err
			}
			for _, a := range g.AllAliases() {
				if err := ab.Put(key(cache.FoldEmail(a), g.ID), nil); err != nil {
					return nil, err
				}
			}
		}
		return changes, nil
	})
}

func unindexGroup(eb, ab *bbolt.Bucket, g greep.Group) error {
	if err := eb.Delete(key(cache.FoldEmail(g.Email), g.ID)); err != nil {
		return err
	}
	for _, a := range g.AllAliases() {
		if err := ab.Delete(key(cache.FoldEmail(a), g.ID)); err != nil {
			return err
		}
	}
	return nil
}

// Group implements greep.GroupStore.
func (s *Store) Group(ctx context.Context, k string) (greep.Group, error) {
	if err := cache.CheckKey("group key", k); err != nil {
		return greep.Group{}, err
	}
	var g greep.Group
	err := s.view(func(tx *bbolt.Tx) error {
		gb := tx.Bucket(bGroups)
		id := []byte(k)
		if gb.Get(id) == nil {
			id = firstID(tx.Bucket(bByEmail), cache.FoldEmail(k))
			if id == nil {
				id = firstID(tx.Bucket(bByAlias), cache.FoldEmail(k))
			}
		}
		found, err := getGroup(tx, id, &g)
		if err == nil && !found {
			err = greep.Errorf(greep.ENOTFOUND, "group %s not found", k)
		}
		return err
	})
	return g, err
}

// firstID returns the id of the first "name \x00 id" key for name in b.
func firstID(b *bbolt.Bucket, name string) []byte {
	p := key(name, "")
	k, _ := b.Cursor().Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) {
		return nil
	}
	return k[len(p):]
}

// Groups implements greep.GroupStore.
func (s *Store) Groups(ctx context.Context, p greep.Page) ([]greep.Group, string, error) {
	var (
		out  []greep.Group
		next string
	)
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		next, err = scan(tx.Bucket(bByEmail), nil, nil, p.Token, cache.PageSize(p), func(k, _ []byte) (bool, error) {
			i := bytes.IndexByte(k, 0)
			var g greep.Group
			found, err := getGroup(tx, k[i+1:], &g)
			if found {
				out = append(out, g)
			}
			return found, err
		})
		return err
	})
	return out, next, err
}

// DeleteGroup implements greep.GroupStore.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	if err := cache.CheckKey("group id", id); err != nil {
		return err
	}
	s.cache.startWrite(id)
	defer s.cache.endWrite(id)
	cause := greep.CauseOf(ctx)
	return s.updateChanges(func(tx *bbolt.Tx) ([]greep.Change, error) {
		gb := tx.Bucket(bGroups)
		var g greep.Group
		found, err := getGroupRecord(gb, []byte(id), &g)
		if err != nil || !found {
			return nil, err
		}
		if err := unindexGroup(tx.Bucket(bByEmail), tx.Bucket(bByAlias), g); err != nil {
			return nil, err
		}
		if err := s.dropSnapshot(tx, id); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bSettings).Delete([]byte(cache.FoldEmail(g.Email))); err != nil {
			return nil, err
		}
		return []greep.Change{cache.GroupDeleted(g, cause)}, gb.Delete([]byte(id))
	})
}

// ReplaceMembers implements greep.GroupStore. The group must exist (ENOTFOUND if not).
func (s *Store) ReplaceMembers(ctx context.Context, groupID string, members []greep.Member, etag string, syncedAt time.Time) error {
	return s.replace(ctx, groupID, nil, members, etag, syncedAt)
}

// ReplaceMembersFrom implements greep.GroupStore.
func (s *Store) ReplaceMembersFrom(ctx context.Context, groupID string, from greep.MembersVersion, members []greep.Member, etag string, syncedAt time.Time) error {
	return s.replace(ctx, groupID, &from, members, etag, syncedAt)
}

func (s *Store) replace(ctx context.Context, groupID string, from *greep.MembersVersion, members []greep.Member, etag string, syncedAt time.Time) error {
	if err := cache.CheckKey("group id", groupID); err != nil {
		return err
	}
	ms, err := cache.NormalizeMembers(members)
	if err != nil {
		return err
	}
	s.cache.startWrite(groupID)
	defer s.cache.endWrite(groupID) // after the commit: see readCache
	cause := greep.CauseOf(ctx)
	return s.updateChanges(func(tx *bbolt.Tx) ([]greep.Change, error) {
		return s.replaceMembers(tx, groupID, from, ms, etag, syncedAt, cause)
	})
}

// replaceMembers swaps in ms, normalised, and returns the change records of the swap;
// with from, only over that version of the list (ECONFLICT otherwise). The group's
// record is read, not written: the version goes with the snapshot (membersvalue.go).
func (s *Store) replaceMembers(tx *bbolt.Tx, groupID string, from *greep.MembersVersion, ms []greep.Member, etag string, syncedAt time.Time, cause greep.ChangeCause) ([]greep.Change, error) {
	id := []byte(groupID)
	var g greep.Group
	found, err := getGroupRecord(tx.Bucket(bGroups), id, &g)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, greep.Errorf(greep.ENOTFOUND, "group %s not found", groupID)
	}
	mb := tx.Bucket(bMembers)
	v, snap, err := decodeMembersVersion(mb.Get(id))
	if err != nil {
		return nil, greep.Errorf(greep.EINTERNAL, "group %s: %v", groupID, err)
	}
	v.apply(&g)
	if from != nil && !from.Is(g.MembersVersion()) {
		return nil, greep.Errorf(greep.ECONFLICT, "members of group %s were replaced since they were read", groupID)
	}
	if cache.OlderRead(g, syncedAt) {
		return nil, nil
	}
	var old []greep.Member
	if snap != nil {
		if _, old, err = cache.DecodeSnapshot(snap); err != nil {
			return nil, greep.Errorf(greep.EINTERNAL, "group %s: %v", groupID, err)
		}
	}
	s.noteDelta(groupID, old, ms)
	version, err := mb.NextSequence()
	if err != nil {
		return nil, err
	}
	if err := mb.Put(id, encodeMembers(etag, syncedAt, version, ms)); err != nil {
		return nil, err
	}
	g.MembersETag, g.MembersSyncedAt = etag, syncedAt
	return cache.MemberChanges(g, old, ms, cause), nil
}

// dropSnapshot removes a deleted group's members value.
func (s *Store) dropSnapshot(tx *bbolt.Tx, groupID string) error {
	mb := tx.Bucket(bMembers)
	cur := mb.Get([]byte(groupID))
	if cur == nil {
		return nil
	}
	_, old, err := decodeMembers(cur)
	if err != nil {
		return greep.Errorf(greep.EINTERNAL, "group %s: %v", groupID, err)
	}
	s.noteDelta(groupID, old, nil)
	return mb.Delete([]byte(groupID))
}

// noteDelta notes what replacing old with ms changes in the reverse index, applied when
// the transaction commits.
func (s *Store) noteDelta(groupID string, old, ms []greep.Member) {
	if d := cache.SnapshotDelta(groupID, old, ms); !d.Empty() {
		s.indexing = append(s.indexing, d)
	}
}

// getGroup reads a group's record with its member version.
func getGroup(tx *bbolt.Tx, id []byte, g *greep.Group) (bool, error) {
	found, err := getGroupRecord(tx.Bucket(bGroups), id, g)
	if err != nil || !found {
		return found, err
	}
	v, _, err := decodeMembersVersion(tx.Bucket(bMembers).Get(id))
	if err != nil {
		return false, greep.Errorf(greep.EINTERNAL, "group %s: %v", id, err)
	}
	v.apply(g)
	return true, nil
}

// Members implements greep.GroupStore.
func (s *Store) Members(ctx context.Context, groupID string) ([]greep.Member, error) {
	if err := cache.CheckKey("group id", groupID); err != nil {
		return nil, err
	}
	if ms, ok := s.cache.get(groupID); ok {
		return slices.Clone(ms), nil
	}
	seq := s.cache.begin()
	var ms []greep.Member
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bMembers).Get([]byte(groupID))
		if b == nil {
			if tx.Bucket(bGroups).Get([]byte(groupID)) == nil {
				return greep.Errorf(greep.ENOTFOUND, "group %s not found", groupID)
			}
			ms = []greep.Member{}
			return nil
		}
		var err error
		if _, ms, err = decodeMembers(b); err != nil {
			return greep.Errorf(greep.EINTERNAL, "group %s: %v", groupID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cache.put(seq, groupID, ms)
	return slices.Clone(ms), nil
}

// MemberOf implements greep.GroupStore, from the reverse index in memory.
func (s *Store) MemberOf(ctx context.Context, memberKey string) ([]string, error) {
	if err := cache.CheckKey("member key", memberKey); err != nil {
		return nil, err
	}
	return s.index.Groups(memberKey), nil
}

// Settings.

// PutSettings implements greep.DirectoryStore.
func (s *Store) PutSettings(ctx context.Context, gs greep.GroupSettings) error {
	if err := cache.CheckKey("group email", gs.GroupEmail); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		b, k := tx.Bucket(bSettings), []byte(cache.FoldEmail(gs.GroupEmail))
		var cur greep.GroupSettings
		found, err := getJSON(b, k, "settings of "+gs.GroupEmail, &cur)
		if err != nil {
			return err
		}
		if found {
			if err := cache.CheckSettingsNewer(gs, cur); err != nil {
				return err
			}
		}
		return putJSON(b, k, "settings of "+gs.GroupEmail, gs)
	})
}

// Settings implements greep.DirectoryStore.
func (s *Store) Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error) {
	if err := cache.CheckKey("group email", groupEmail); err != nil {
		return greep.GroupSettings{}, err
	}
	var gs greep.GroupSettings
	err := s.view(func(tx *bbolt.Tx) error {
		found, err := getJSON(tx.Bucket(bSettings), []byte(cache.FoldEmail(groupEmail)), "settings", &gs)
		if err == nil && !found {
			err = greep.Errorf(greep.ENOTFOUND, "settings of %s not found", groupEmail)
		}
		return err
	})
	return gs, err
}

// Events.

// AddEvents implements greep.EventStore.
func (s *Store) AddEvents(ctx context.Context, events []greep.Event) (int, error) {
	for _, e := range events {
		if err := cache.CheckKey("event id", e.ID); err != nil {
			return 0, err
		}
		if e.Group != "" {
			if err := cache.CheckKey("event group", e.Group); err != nil {
				return 0, err
			}
		}
	}
	added := 0
	err := s.update(func(tx *bbolt.Tx) error {
		added = 0 // bbolt does not retry, but keep the count true to what is committed
		eb, ib, gb := tx.Bucket(bEvents), tx.Bucket(bEventIDs), tx.Bucket(bEventGroup)
		for _, e := range events {
			if ib.Get([]byte(e.ID)) != nil {
				continue
			}
			k := append(cache.TimeKey(e.Time), key("", e.ID)...)
			if err := putJSON(eb, k, "event "+e.ID, e); err != nil {
				return err
			}
			if err := ib.Put([]byte(e.ID), k); err != nil {
				return err
			}
			if e.Group != "" {
				if err := gb.Put(append(key(cache.FoldEmail(e.Group), ""), k...), nil); err != nil {
					return err
				}
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// Events implements greep.EventStore.
func (s *Store) Events(ctx context.Context, q greep.EventQuery) ([]greep.Event, string, error) {
	var (
		out  []greep.Event
		next string
	)
	err := s.view(func(tx *bbolt.Tx) error {
		eb := tx.Bucket(bEvents)
		decode := func(v []byte) error {
			var e greep.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return greep.Errorf(greep.EINTERNAL, "decode event: %v", err)
			}
			out = append(out, e)
			return nil
		}
		var err error
		if q.Group == "" {
			next, err = scan(eb, nil, cache.TimeKey(q.Since), q.Token, cache.PageSize(q.Page), func(_, v []byte) (bool, error) {
				return true, decode(v)
			})
			return err
		}
		p := key(cache.FoldEmail(q.Group), "")
		next, err = scan(tx.Bucket(bEventGroup), p, append(p, cache.TimeKey(q.Since)...), q.Token, cache.PageSize(q.Page), func(k, _ []byte) (bool, error) {
			v := eb.Get(k[len(p):])
			if v == nil {
				return false, greep.Errorf(greep.EINTERNAL, "event index entry %q has no event", k)
			}
			return true, decode(v)
		})
		return err
	})
	return out, next, err
}

// PruneEvents implements greep.EventStore. The events bucket is in time order, so the
// oldest are at its front.
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	end := cache.TimeKey(cutoff)
	n := 0
	err := s.update(func(tx *bbolt.Tx) error {
		n = 0
		eb, ib, gb := tx.Bucket(bEvents), tx.Bucket(bEventIDs), tx.Bucket(bEventGroup)
		type drop struct{ k, id, group []byte }
		var drops []drop
		c := eb.Cursor()
		for k, v := c.First(); k != nil && len(drops) < limit && bytes.Compare(k[:len(end)], end) < 0; k, v = c.Next() {
			var e struct {
				ID    string `json:"id"`
				Group string `json:"group"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return greep.Errorf(greep.EINTERNAL, "decode event %q: %v", k, err)
			}
			d := drop{k: slices.Clone(k), id: []byte(e.ID)}
			if e.Group != "" {
				d.group = append(key(cache.FoldEmail(e.Group), ""), k...)
			}
			drops = append(drops, d)
		}
		// Deleting under a cursor skips keys in bbolt: collect first, then delete.
		for _, d := range drops {
			if err := eb.Delete(d.k); err != nil {
				return err
			}
			if err := ib.Delete(d.id); err != nil {
				return err
			}
			if d.group != nil {
				if err := gb.Delete(d.group); err != nil {
					return err
				}
			}
		}
		n = len(drops)
		return nil
	})
	return n, err
}

// Findings.

// UpdateFinding implements greep.FindingStore. fn may not change the finding's id; a new
// finding gets the id asked for.
func (s *Store) UpdateFinding(ctx context.Context, id string, fn func(f *greep.Finding) error) (greep.Finding, error) {
	if err := cache.CheckKey("finding id", id); err != nil {
		return greep.Finding{}, err
	}
	var f greep.Finding
	err := s.update(func(tx *bbolt.Tx) error {
		fb, xb := tx.Bucket(bFindings), tx.Bucket(bFindingIdx)
		f = greep.Finding{}
		found, err := getJSON(fb, []byte(id), "finding", &f)
		if err != nil {
			return err
		}
		old := f
		if err := fn(&f); err != nil {
			return err
		}
		if f.ID == "" {
			f.ID = id
		}
		if f.ID != id {
			return greep.Errorf(greep.EINVALID, "finding %s: the update changed its id to %q", id, f.ID)
		}
		if found {
			if err := xb.Delete(key("g", cache.FoldEmail(old.Group), id)); err != nil {
				return err
			}
			if err := xb.Delete(key("s", old.State, id)); err != nil {
				return err
			}
		}
		if err := putJSON(fb, []byte(id), "finding "+id, f); err != nil {
			return err
		}
		if err := xb.Put(key("g", cache.FoldEmail(f.Group), id), nil); err != nil {
			return err
		}
		return xb.Put(key("s", f.State, id), nil)
	})
	if err != nil {
		return greep.Finding{}, err
	}
	return f, nil
}

// Finding implements greep.FindingStore.
func (s *Store) Finding(ctx context.Context, id string) (greep.Finding, error) {
	if err := cache.CheckKey("finding id", id); err != nil {
		return greep.Finding{}, err
	}
	var f greep.Finding
	err := s.view(func(tx *bbolt.Tx) error {
		found, err := getJSON(tx.Bucket(bFindings), []byte(id), "finding", &f)
		if err == nil && !found {
			err = greep.Errorf(greep.ENOTFOUND, "finding %s not found", id)
		}
		return err
	})
	return f, err
}

// Findings implements greep.FindingStore; findings come in id order.
func (s *Store) Findings(ctx context.Context, q greep.FindingQuery) ([]greep.Finding, string, error) {
	var (
		out  []greep.Finding
		next string
	)
	err := s.view(func(tx *bbolt.Tx) error {
		fb := tx.Bucket(bFindings)
		accept := func(id []byte) (bool, error) {
			var f greep.Finding
			found, err := getJSON(fb, id, "finding", &f)
			if err != nil || !found || (q.State != "" && f.State != q.State) {
				return false, err
			}
			out = append(out, f)
			return true, nil
		}
		var (
			b      = tx.Bucket(bFindingIdx)
			prefix []byte
		)
		switch {
		case q.Group != "": // the narrower index; the state is checked on each finding
			prefix = key("g", cache.FoldEmail(q.Group), "")
		case q.State != "":
			prefix = key("s", q.State, "")
		default:
			b = fb
		}
		var err error
		next, err = scan(b, prefix, nil, q.Token, cache.PageSize(q.Page), func(k, _ []byte) (bool, error) {
			return accept(k[len(prefix):])
		})
		return err
	})
	return out, next, err
}

// State and counters.

// State implements greep.StateStore.
func (s *Store) State(ctx context.Context, name string) ([]byte, error) {
	if err := cache.CheckKey("state name", name); err != nil {
		return nil, err
	}
	doc, found, ok := s.states.get(name)
	if !ok {
		seq := s.states.begin()
		err := s.view(func(tx *bbolt.Tx) error {
			v := tx.Bucket(bState).Get([]byte(name))
			found = v != nil
			doc = bytes.Clone(v)
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.states.put(seq, name, doc, found)
	}
	if !found {
		return nil, greep.Errorf(greep.ENOTFOUND, "state %s not found", name)
	}
	return doc, nil
}

// UpdateState implements greep.StateStore. fn returning nil deletes the document.
func (s *Store) UpdateState(ctx context.Context, name string, fn func(cur []byte) ([]byte, error)) error {
	if err := cache.CheckKey("state name", name); err != nil {
		return err
	}
	s.states.startWrite(name)
	defer s.states.endWrite(name)
	return s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bState)
		next, err := fn(bytes.Clone(b.Get([]byte(name))))
		if err != nil {
			return err
		}
		if next == nil {
			return b.Delete([]byte(name))
		}
		if err := cache.CheckSize("state "+name, len(next)); err != nil {
			return err
		}
		return b.Put([]byte(name), next)
	})
}

// AddCount implements greep.StateStore.
func (s *Store) AddCount(ctx context.Context, name string, delta int64) (int64, error) {
	if err := cache.CheckKey("counter name", name); err != nil {
		return 0, err
	}
	var total int64
	err := s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bCounters)
		if err := addCount(b, name, delta); err != nil {
			return err
		}
		total, _ = counter(b, name)
		return nil
	})
	return total, err
}

// Count implements greep.StateStore.
func (s *Store) Count(ctx context.Context, name string) (int64, error) {
	if err := cache.CheckKey("counter name", name); err != nil {
		return 0, err
	}
	var total int64
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		total, err = counter(tx.Bucket(bCounters), name)
		return err
	})
	return total, err
}

func counter(b *bbolt.Bucket, name string) (int64, error) {
	v := b.Get([]byte(name))
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	return 0, greep.Errorf(greep.EINTERNAL, "counter %s is corrupt", name)
}

// Records.

// CreateRecord implements greep.RecordStore.
func (s *Store) CreateRecord(ctx context.Context, kind, id string, data []byte) error {
	if err := cache.CheckRecord(kind, id, data); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		b, err := tx.Bucket(bRecords).CreateBucketIfNotExists([]byte(kind))
		if err != nil {
			return err
		}
		if b.Get([]byte(id)) != nil {
			return greep.Errorf(greep.ECONFLICT, "record %s/%s already exists", kind, id)
		}
		return b.Put([]byte(id), nonNil(data))
	})
}

// PutRecord implements greep.RecordStore.
func (s *Store) PutRecord(ctx context.Context, kind, id string, data []byte) error {
	if err := cache.CheckRecord(kind, id, data); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		b, err := tx.Bucket(bRecords).CreateBucketIfNotExists([]byte(kind))
		if err != nil {
			return err
		}
		return b.Put([]byte(id), nonNil(data))
	})
}

// nonNil stores an empty record as an empty value, so Records hands fn a non-nil slice
// for every record, as the Datastore store does.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DeleteRecord implements greep.RecordStore.
func (s *Store) DeleteRecord(ctx context.Context, kind, id string) error {
	if err := cache.CheckRecord(kind, id, nil); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bRecords).Bucket([]byte(kind))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(id))
	})
}

// DeleteRecords implements greep.RecordStore, in one transaction.
func (s *Store) DeleteRecords(ctx context.Context, kind string, ids []string) error {
	for _, id := range ids {
		if err := cache.CheckRecord(kind, id, nil); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bRecords).Bucket([]byte(kind))
		if b == nil {
			return nil
		}
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordBatch is how many records Records reads per transaction.
const recordBatch = 256

// Records implements greep.RecordStore. fn runs outside any transaction (so it may call
// the store, to delete the record for example), on records read in batches: a record
// written during the walk may or may not be seen.
func (s *Store) Records(ctx context.Context, kind string, fn func(id string, data []byte) error) error {
	if err := cache.CheckKey("record kind", kind); err != nil {
		return err
	}
	type rec struct {
		id   string
		data []byte
	}
	var after []byte
	for {
		var batch []rec
		err := s.view(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bRecords).Bucket([]byte(kind))
			if b == nil {
				return nil
			}
			c := b.Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < recordBatch; k, v = c.Next() {
				batch = append(batch, rec{string(k), bytes.Clone(v)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(r.id, r.data); err != nil {
				return err
			}
		}
		if len(batch) < recordBatch {
			return nil
		}
		after = []byte(batch[len(batch)-1].id)
	}
}
