// Package datastore is Greep's production store: greep.Store on Cloud Datastore (Firestore
// in Datastore mode) through cloud.google.com/go/datastore. Open(ctx, project, namespace)
// connects to the project, or to the emulator when DATASTORE_EMULATOR_HOST is set.
// docs/storage.md describes the entity design; in short:
//
//   - A group's member list is a versioned snapshot. ReplaceMembers writes the new
//     version as chunk entities of up to 500 encoded members, in batches, then swaps
//     the group entity's pointer (version, chunk and member counts) in a transaction,
//     then deletes the old version. Readers resolve the pointer and get that version's
//     chunks by key (strongly consistent); a chunk gone missing means the version was
//     replaced while they read, and they resolve the pointer again. So a list of any
//     size — larger than any one transaction — changes for readers all at once.
//   - The reverse index is the chunks' indexed Keys property (member ids and folded
//     emails): MemberOf queries it and keeps the hits whose version is their group's
//     current one.
//   - Counters are sharded so many instances can add to one at a high rate.
//
// Every value is checked against Datastore's limits (pkg/cache) before anything is
// written, and writes go in commits of at most 500 entities.
package datastore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ds "cloud.google.com/go/datastore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// Kinds.
const (
	kindGroup        = "Group"
	kindSnapshot     = "Snapshot"
	kindMembers      = "Members"
	kindUser         = "User"
	kindSettings     = "Settings"
	kindEvent        = "Event"
	kindFinding      = "Finding"
	kindState        = "State"
	kindCounter      = "Counter"
	kindCounterShard = "CounterShard"
	kindRecordKind   = "RecordKind"
	kindRecord       = "Record"
)

const (
	// maxBatch is Datastore's limit of entities written by one commit.
	maxBatch = 500
	// counterShards spreads one counter over this many entities: each takes about one
	// transactional write a second sustained, so a counter takes about this many.
	counterShards = 16
	// txEntityGroups is how many entity groups (here: groups) one transaction may touch
	// in Cloud Datastore and the emulator; Firestore in Datastore mode allows 500.
	txEntityGroups = 25
	// txAttempts is how often a contended transaction is tried before giving up.
	txAttempts = 10
	// countAttempts is txAttempts for a counter's add. The legacy emulator, which CI runs,
	// conflicts per entity group, and a counter's shards share one: the contract's 90
	// adds at once to one counter queue up behind each other there, and under a loaded
	// CI machine one of them ran out of its 10 attempts (about 0.3 s of the client's
	// backoff). Firestore, production's database, locks per entity, and writers take the
	// shards in turn, so they seldom meet.
	countAttempts = 30
	// parallelism is how many batches one call reads or writes at once.
	parallelism = 4
	// orphanAge is when a snapshot version that never became current (its writer died
	// between writing it and the swap) is old enough to be removed: no writer takes
	// this long between the two.
	orphanAge = 30 * time.Minute
	// orphanSweepEvery: one ReplaceMembers in this many looks for abandoned versions.
	orphanSweepEvery = 16
)

// Store is the Datastore store. Its methods are safe for concurrent use.
type Store struct {
	client     *ds.Client
	ns         string
	ownsClient bool
	changed    cache.Signal
	writes     cache.WriteCounter
	seq        *sequencer
	shard      atomic.Uint64 // nextShard's turn
	locks      keyLocks      // UpdateFinding's and UpdateState's, per entity
}

var _ greep.Store = (*Store)(nil)

// Open connects to Datastore in projectID (DATASTORE_PROJECT_ID when empty), or to the
// emulator when DATASTORE_EMULATOR_HOST is set, as Google's tools do, and keeps its
// entities in namespace ns ("" is the default namespace).
func Open(ctx context.Context, projectID, ns string) (*Store, error) {
	if projectID == "" {
		projectID = os.Getenv("DATASTORE_PROJECT_ID")
	}
	if projectID == "" {
		return nil, errors.New("datastore: no project: set DATASTORE_PROJECT_ID")
	}
	c, err := ds.NewClient(ctx, projectID)
	if err != nil {
		return nil, fmt.Errorf("datastore: connect to project %s: %w", projectID, err)
	}
	s := New(c, ns)
	s.ownsClient = true
	return s, nil
}

// New returns a store on an existing client, in namespace ns. Close leaves the client
// open.
func New(c *ds.Client, ns string) *Store {
	s := &Store{client: c, ns: ns, seq: newSequencer()}
	s.shard.Store(rand.Uint64N(counterShards))
	return s
}

// Close stops the background sequencing (records it had not taken yet go with the next
// round anywhere) and closes the client when Open made it.
func (s *Store) Close() error {
	s.closeSequencer()
	if s.ownsClient {
		return s.client.Close()
	}
	return nil
}

func (s *Store) key(kind, name string, parent *ds.Key) *ds.Key {
	k := ds.NameKey(kind, name, parent)
	k.Namespace = s.ns
	return k
}

func (s *Store) idKey(kind string, id int64, parent *ds.Key) *ds.Key {
	k := ds.IDKey(kind, id, parent)
	k.Namespace = s.ns
	return k
}

func (s *Store) query(kind string) *ds.Query { return ds.NewQuery(kind).Namespace(s.ns) }

func (s *Store) runTx(ctx context.Context, f func(tx *ds.Transaction) error) error {
	return s.runTxAttempts(ctx, txAttempts, f)
}

func (s *Store) runTxAttempts(ctx context.Context, attempts int, f func(tx *ds.Transaction) error) error {
	_, err := s.client.RunInTransaction(ctx, func(tx *ds.Transaction) error {
		s.writes.Tx(0)
		return f(tx)
	}, ds.MaxAttempts(attempts))
	return err
}

// wrap adds context to a Datastore error; greep errors pass through as they are.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var ge *greep.Error
	if errors.As(err, &ge) {
		return err
	}
	return fmt.Errorf("datastore: "+format+": %w", append(args, err)...)
}

func marshal(what string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return b, cache.CheckSize(what, len(b))
}

func unmarshal(what string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return greep.Errorf(greep.EINTERNAL, "decode %s: %v", what, err)
	}
	return nil
}

// inBatches calls fn on consecutive ranges of at most size of n items, up to
// parallelism at once, and returns the first error.
func inBatches(ctx context.Context, n, size int, fn func(ctx context.Context, lo, hi int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, parallelism)
	)
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, lo, hi); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}

// Paging uses Datastore cursors as tokens: the position after the last item returned.

func decodeCursor(token string) (ds.Cursor, error) {
	c, err := ds.DecodeCursor(token)
	if err != nil {
		return ds.Cursor{}, greep.Errorf(greep.EINVALID, "invalid page token")
	}
	return c, nil
}

// page runs q from token and calls next for each of up to limit results; next reads
// the result with it.Next. It returns the token of the following page, or "" when no
// result follows.
func (s *Store) page(ctx context.Context, q *ds.Query, token string, limit int, next func(it *ds.Iterator) error) (string, error) {
	c, err := decodeCursor(token)
	if err != nil {
		return "", err
	}
	if token != "" {
		q = q.Start(c)
	}
	it := s.client.Run(ctx, q.Limit(limit+1))
	for range limit {
		if err := next(it); errors.Is(err, iterator.Done) {
			return "", nil
		} else if err != nil {
			return "", queryErr(err)
		}
	}
	cur, err := it.Cursor()
	if err != nil {
		return "", queryErr(err)
	}
	// One more result, not decoded, tells whether there is a next page.
	if _, err := it.Next(nil); errors.Is(err, iterator.Done) {
		return "", nil
	} else if err != nil {
		return "", queryErr(err)
	}
	return cur.String(), nil
}

// queryErr reports a cursor Datastore refuses (it decoded, but belongs to no query of
// ours) as bad input.
func queryErr(err error) error {
	if status.Code(err) == codes.InvalidArgument {
		return greep.Errorf(greep.EINVALID, "invalid page token or query: %v", status.Convert(err).Message())
	}
	return wrap(err, "query")
}

// Groups.

// groupEntity is a group: its metadata as JSON, the properties lookups and listing
// query, and the pointer to its current member snapshot.
type groupEntity struct {
	Email   string   // folded; indexed for lookup and listing order
	Aliases []string // folded; indexed for lookup
	// Version is the current snapshot's id (0: none yet), held in Chunks chunk
	// entities with Count members in all.
	Version int64  `datastore:",noindex"`
	Count   int64  `datastore:",noindex"`
	Chunks  int64  `datastore:",noindex"`
	Data    []byte `datastore:",noindex"`
}

func (e *groupEntity) group() (greep.Group, error) {
	var g greep.Group
	return g, unmarshal("group", e.Data, &g)
}

func (s *Store) groupKey(id string) *ds.Key { return s.key(kindGroup, id, nil) }

// PutGroups implements greep.GroupStore. Each transaction covers up to 25 groups (it
// must read them to keep their snapshot pointers; their staged change records are in
// their own entity groups); a call with more is not atomic as a whole.
func (s *Store) PutGroups(ctx context.Context, groups []greep.Group) error {
	data := make([][]byte, len(groups))
	for i, g := range groups {
		if err := cache.CheckGroup(g); err != nil {
			return err
		}
		// The bookkeeping fields PutGroups keeps are at most a few hundred bytes more.
		var err error
		if data[i], err = marshal("group "+g.ID, g); err != nil {
			return err
		}
	}
	cause := greep.CauseOf(ctx)
	return inBatches(ctx, len(groups), txEntityGroups, func(ctx context.Context, lo, hi int) error {
		batch := groups[lo:hi]
		keys := make([]*ds.Key, len(batch))
		for i, g := range batch {
			keys[i] = s.groupKey(g.ID)
		}
		return wrap(s.runChangeTx(ctx, func(tx *ds.Transaction) (int, error) {
			old := make([]groupEntity, len(batch))
			if err := notFoundOK(tx.GetMulti(keys, old)); err != nil {
				return 0, err
			}
			ents := make([]groupEntity, len(batch))
			var changes []greep.Change
			for i, g := range batch {
				var before *greep.Group
				if old[i].Data != nil {
					prev, err := old[i].group()
					if err != nil {
						return 0, err
					}
					g.MembersSyncedAt, g.MembersETag = prev.MembersSyncedAt, prev.MembersETag
					before = &prev
				}
				if ch, ok := cache.GroupChange(before, g, cause); ok {
					changes = append(changes, ch)
				}
				e, err := newGroupEntity(g)
				if err != nil {
					return 0, err
				}
				e.Version, e.Count, e.Chunks = old[i].Version, old[i].Count, old[i].Chunks
				ents[i] = e
			}
			if _, err := s.txPutMulti(tx, keys, ents); err != nil {
				return 0, err
			}
			return len(changes), s.stage(tx, changes)
		}), "put groups")
	})
}

// newGroupEntity makes the entity of g, without a snapshot pointer.
func newGroupEntity(g greep.Group) (groupEntity, error) {
	data, err := marshal("group "+g.ID, g)
	if err != nil {
		return groupEntity{}, err
	}
	e := groupEntity{Email: cache.FoldEmail(g.Email), Data: data}
	for _, a := range g.AllAliases() {
		e.Aliases = append(e.Aliases, cache.FoldEmail(a))
	}
	return e, nil
}

// notFoundOK drops ErrNoSuchEntity from a GetMulti error (missing entities are left
// zero) and returns any other error.
func notFoundOK(err error) error {
	var me ds.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			if e != nil && !errors.Is(e, ds.ErrNoSuchEntity) {
				return e
			}
		}
		return nil
	}
	if errors.Is(err, ds.ErrNoSuchEntity) {
		return nil
	}
	return err
}

// Group implements greep.GroupStore.
func (s *Store) Group(ctx context.Context, k string) (greep.Group, error) {
	if err := cache.CheckKey("group key", k); err != nil {
		return greep.Group{}, err
	}
	var e groupEntity
	err := s.client.Get(ctx, s.groupKey(k), &e)
	if errors.Is(err, ds.ErrNoSuchEntity) {
		err = s.first(ctx, &e, s.query(kindGroup).FilterField("Email", "=", cache.FoldEmail(k)))
		if errors.Is(err, ds.ErrNoSuchEntity) {
			err = s.first(ctx, &e, s.query(kindGroup).FilterField("Aliases", "=", cache.FoldEmail(k)))
		}
	}
	if errors.Is(err, ds.ErrNoSuchEntity) {
		return greep.Group{}, greep.Errorf(greep.ENOTFOUND, "group %s not found", k)
	}
	if err != nil {
		return greep.Group{}, wrap(err, "get group %s", k)
	}
	return e.group()
}

// first loads the first result of q into dst, or returns ErrNoSuchEntity.
func (s *Store) first(ctx context.Context, dst any, q *ds.Query) error {
	_, err := s.client.Run(ctx, q.Limit(1)).Next(dst)
	if errors.Is(err, iterator.Done) {
		return ds.ErrNoSuchEntity
	}
	return err
}

// Groups implements greep.GroupStore.
func (s *Store) Groups(ctx context.Context, p greep.Page) ([]greep.Group, string, error) {
	var out []greep.Group
	next, err := s.page(ctx, s.query(kindGroup).Order("Email"), p.Token, cache.PageSize(p), func(it *ds.Iterator) error {
		var e groupEntity
		if _, err := it.Next(&e); err != nil {
			return err
		}
		g, err := e.group()
		if err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// DeleteGroup implements greep.GroupStore. The group entity goes first, in a
// transaction, so readers stop seeing the group at once; its snapshots and settings
// follow.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	if err := cache.CheckKey("group id", id); err != nil {
		return err
	}
	var g greep.Group
	found := false
	cause := greep.CauseOf(ctx)
	err := s.runChangeTx(ctx, func(tx *ds.Transaction) (int, error) {
		found = false
		var e groupEntity
		err := tx.Get(s.groupKey(id), &e)
		if errors.Is(err, ds.ErrNoSuchEntity) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if g, err = e.group(); err != nil {
			return 0, err
		}
		found = true
		if err := s.txDelete(tx, s.groupKey(id)); err != nil {
			return 0, err
		}
		return 1, s.stage(tx, []greep.Change{cache.GroupDeleted(g, cause)})
	})
	if err != nil {
		return wrap(err, "delete group %s", id)
	}
	// Every snapshot version, including any a failed writer left behind.
	if err := s.dropVersions(ctx, id, func(int64, snapshotEntity) bool { return true }); err != nil {
		return wrap(err, "delete group %s: delete its snapshots", id)
	}
	if found {
		if err := s.delete(ctx, s.key(kindSettings, cache.FoldEmail(g.Email), nil)); err != nil && !errors.Is(err, ds.ErrNoSuchEntity) {
			return wrap(err, "delete group %s: delete its settings", id)
		}
	}
	return nil
}

// snapshotEntity records one version of a group's member list, under the group's key.
// It is written before the version's chunks, so every version that may have chunks can
// be found (to remove a version a failed writer left behind, or all of them when the
// group goes).
type snapshotEntity struct {
	Created time.Time `datastore:",noindex"`
	Chunks  int64     `datastore:",noindex"`
}

// chunkEntity holds up to chunkMembers members of one snapshot version, encoded with
// cache.EncodeSnapshot (whose version field holds the snapshot version, checked on
// read). Its key is a root key named "group id/version/chunk" (see chunkKey): each
// chunk is its own entity group, so a large version is written by parallel batches
// without contention, and read back by key — strongly consistent, no query, no index —
// since the group's pointer says which version and how many chunks.
type chunkEntity struct {
	// Keys are the members' ids and folded emails: the reverse index MemberOf queries.
	Keys []string
	Data []byte `datastore:",noindex"`
}

// Chunk limits. 500 members of ordinary size make a chunk of about 50 KB; the byte
// bound keeps chunks of unusually long addresses under the entity limit, and 8 chunks
// under gRPC's 4 MB default message size, which bounds a GetMulti.
const (
	chunkMembers  = 500
	chunkBytes    = 256 << 10
	chunksPerCall = 8
)

func (s *Store) snapshotKey(groupID string, version int64) *ds.Key {
	return s.idKey(kindSnapshot, version, s.groupKey(groupID))
}

// chunkKey names chunk i of a version.
func (s *Store) chunkKey(groupID string, version int64, i int) *ds.Key {
	return s.key(kindMembers, groupID+"/"+strconv.FormatInt(version, 10)+"/"+strconv.Itoa(i), nil)
}

// parseChunkKey is chunkKey's inverse. The group id may itself hold slashes: the
// version and chunk are the last two fields.
func parseChunkKey(name string) (groupID string, version int64, ok bool) {
	j := strings.LastIndexByte(name, '/')
	if j < 0 {
		return "", 0, false
	}
	i := strings.LastIndexByte(name[:j], '/')
	if i <= 0 {
		return "", 0, false
	}
	v, err := strconv.ParseInt(name[i+1:j], 10, 64)
	return name[:i], v, err == nil
}

func (s *Store) chunkKeys(groupID string, version int64, lo, hi int) []*ds.Key {
	keys := make([]*ds.Key, 0, hi-lo)
	for i := lo; i < hi; i++ {
		keys = append(keys, s.chunkKey(groupID, version, i))
	}
	return keys
}

// chunk splits an ordered member list into chunk entities.
func chunk(version int64, ms []greep.Member) []chunkEntity {
	var (
		out   []chunkEntity
		start int
		size  int
		keys  []string
	)
	flush := func(end int) {
		out = append(out, chunkEntity{Keys: keys, Data: cache.EncodeSnapshot(uint64(version), ms[start:end])})
		start, size, keys = end, 0, nil
	}
	for i, m := range ms {
		mk := cache.MemberKeys(m)
		n := 5*binary.MaxVarintLen32 + len(m.ID) + len(m.Email) + len(m.Role) + len(m.Type) + len(m.Status)
		for _, k := range mk {
			n += len(k)
		}
		if i > start && (i-start == chunkMembers || size+n > chunkBytes) {
			flush(i)
		}
		size += n
		keys = append(keys, mk...)
	}
	if len(ms) > start {
		flush(len(ms))
	}
	return out
}

// ReplaceMembers implements greep.GroupStore. The group must exist (ENOTFOUND if not).
func (s *Store) ReplaceMembers(ctx context.Context, groupID string, members []greep.Member, etag string, syncedAt time.Time) error {
	return s.replace(ctx, groupID, nil, members, etag, syncedAt)
}

// ReplaceMembersFrom implements greep.GroupStore. The version is checked before the new
// list is written, which saves the writes when it has already changed, and again in
// the swap's transaction, which decides.
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
	var e groupEntity
	if err := s.client.Get(ctx, s.groupKey(groupID), &e); errors.Is(err, ds.ErrNoSuchEntity) {
		return greep.Errorf(greep.ENOTFOUND, "group %s not found", groupID)
	} else if err != nil {
		return wrap(err, "replace members of %s", groupID)
	}
	if err := checkFrom(groupID, from, e); err != nil {
		return err
	}
	if older, err := olderRead(e, syncedAt); err != nil || older {
		return err // an older read changes nothing (cache.OlderRead); the swap checks again
	}

	// 1. The new version, invisible to readers until the pointer names it. No chunk
	// may exist without the record of its version (DeleteGroup and later swaps find
	// chunks through it), so the record is written first, or in the same commit.
	version := rand.Int64N(1<<53) + 1
	chunks := chunk(version, ms)
	if err := s.writeVersion(ctx, groupID, version, chunks); err != nil {
		// Best effort: a version left behind is invisible to readers, and a later
		// ReplaceMembers or DeleteGroup removes it.
		_ = s.dropVersion(context.WithoutCancel(ctx), groupID, version, int64(len(chunks)))
		return wrap(err, "replace members of %s: write members", groupID)
	}

	// 2. The swap, with the change records of the list it replaces: read before the
	// transaction (a version's chunks never change), and read again should another
	// writer have swapped in between.
	old, oldChunks, err := s.swap(ctx, groupID, e, from, ms, etag, syncedAt, version, int64(len(chunks)))
	if err != nil {
		_ = s.dropVersion(context.WithoutCancel(ctx), groupID, version, int64(len(chunks)))
		if errors.Is(err, errOlderRead) {
			return nil
		}
		if errors.Is(err, greep.ErrConflict) {
			return err
		}
		return wrap(err, "replace members of %s: swap", groupID)
	}

	// 3. The old version, and any a failed writer left behind. A reader that resolved
	// the old pointer finds chunks missing and resolves it again.
	if old != 0 {
		if err := s.dropVersion(ctx, groupID, old, oldChunks); err != nil {
			return wrap(err, "replace members of %s: the new list is in place, but removing the old one failed", groupID)
		}
	}
	// Abandoned versions are rare (a writer died between writing and swapping) and
	// invisible, so look for them only now and then: the query costs more than the
	// rest of a small group's swap.
	if rand.IntN(orphanSweepEvery) != 0 {
		return nil
	}
	cutoff := time.Now().Add(-orphanAge)
	err = s.dropVersions(ctx, groupID, func(v int64, e snapshotEntity) bool {
		return v != version && e.Created.Before(cutoff)
	})
	return wrap(err, "replace members of %s: remove abandoned versions", groupID)
}

// swap points the group at the new version, replacing the version cur (the group as read
// before) points to, and records the changes from that version's list to ms; with from,
// only while the group's list is that version. It returns the version it replaced.
func (s *Store) swap(ctx context.Context, groupID string, cur groupEntity, from *greep.MembersVersion, ms []greep.Member, etag string, syncedAt time.Time, version, chunks int64) (old, oldChunks int64, err error) {
	cause := greep.CauseOf(ctx)
	for attempt := 0; ; attempt++ {
		prev, err := s.readVersion(ctx, groupID, cur)
		if err == nil {
			err = s.runChangeTx(ctx, func(tx *ds.Transaction) (int, error) {
				var e groupEntity
				if err := tx.Get(s.groupKey(groupID), &e); errors.Is(err, ds.ErrNoSuchEntity) {
					return 0, greep.Errorf(greep.ENOTFOUND, "group %s was deleted", groupID)
				} else if err != nil {
					return 0, err
				}
				if e.Version != cur.Version {
					return 0, errReplaced
				}
				if err := checkFrom(groupID, from, e); err != nil {
					return 0, err
				}
				g, err := e.group()
				if err != nil {
					return 0, err
				}
				if cache.OlderRead(g, syncedAt) {
					return 0, errOlderRead
				}
				g.MembersETag, g.MembersSyncedAt = etag, syncedAt
				ne, err := newGroupEntity(g)
				if err != nil {
					return 0, err
				}
				ne.Version, ne.Count, ne.Chunks = version, int64(len(ms)), chunks
				old, oldChunks = e.Version, e.Chunks
				if _, err := s.txPut(tx, s.groupKey(groupID), &ne); err != nil {
					return 0, err
				}
				changes := cache.MemberChanges(g, prev, ms, cause)
				return len(changes), s.stage(tx, changes)
			})
		}
		if !errors.Is(err, errReplaced) || attempt == txAttempts {
			return old, oldChunks, err
		}
		var e groupEntity
		if err := s.client.Get(ctx, s.groupKey(groupID), &e); errors.Is(err, ds.ErrNoSuchEntity) {
			return 0, 0, greep.Errorf(greep.ENOTFOUND, "group %s was deleted", groupID)
		} else if err != nil {
			return 0, 0, err
		}
		cur = e
	}
}

// errOlderRead ends a swap whose list was read before the stored one: the write changes
// nothing (cache.OlderRead).
var errOlderRead = errors.New("an older read of the member list")

// olderRead reports whether a list read at syncedAt is older than e's.
func olderRead(e groupEntity, syncedAt time.Time) (bool, error) {
	g, err := e.group()
	if err != nil {
		return false, err
	}
	return cache.OlderRead(g, syncedAt), nil
}

// checkFrom returns ECONFLICT when from is set and e's member list is another version.
func checkFrom(groupID string, from *greep.MembersVersion, e groupEntity) error {
	if from == nil {
		return nil
	}
	g, err := e.group()
	if err != nil {
		return err
	}
	if !from.Is(g.MembersVersion()) {
		return greep.Errorf(greep.ECONFLICT, "members of group %s were replaced since they were read", groupID)
	}
	return nil
}

// writeVersion writes the record of a version and its chunks: in one commit when they
// fit, else the record and then the chunks in parallel commits.
func (s *Store) writeVersion(ctx context.Context, groupID string, version int64, chunks []chunkEntity) error {
	snapKey := s.snapshotKey(groupID, version)
	snap := &snapshotEntity{Created: time.Now(), Chunks: int64(len(chunks))}
	if len(chunks) <= 2*chunksPerCall {
		keys := append(s.chunkKeys(groupID, version, 0, len(chunks)), snapKey)
		ents := make([]any, 0, len(keys))
		for i := range chunks {
			ents = append(ents, &chunks[i])
		}
		_, err := s.putMulti(ctx, keys, append(ents, snap))
		return err
	}
	if _, err := s.put(ctx, snapKey, snap); err != nil {
		return err
	}
	return inBatches(ctx, len(chunks), 2*chunksPerCall, func(ctx context.Context, lo, hi int) error {
		_, err := s.putMulti(ctx, s.chunkKeys(groupID, version, lo, hi), chunks[lo:hi])
		return err
	})
}

// dropVersion deletes one snapshot version: its chunks, then its record (in the same
// commit when one suffices).
func (s *Store) dropVersion(ctx context.Context, groupID string, version, chunks int64) error {
	if chunks < maxBatch {
		return s.deleteMulti(ctx, append(s.chunkKeys(groupID, version, 0, int(chunks)), s.snapshotKey(groupID, version)))
	}
	err := inBatches(ctx, int(chunks), maxBatch, func(ctx context.Context, lo, hi int) error {
		return s.deleteMulti(ctx, s.chunkKeys(groupID, version, lo, hi))
	})
	if err != nil {
		return err
	}
	return s.delete(ctx, s.snapshotKey(groupID, version))
}

// dropVersions deletes the group's snapshot versions that drop selects.
func (s *Store) dropVersions(ctx context.Context, groupID string, drop func(version int64, e snapshotEntity) bool) error {
	var snaps []snapshotEntity
	keys, err := s.client.GetAll(ctx, s.query(kindSnapshot).Ancestor(s.groupKey(groupID)), &snaps)
	if err != nil {
		return err
	}
	for i, k := range keys {
		if drop(k.ID, snaps[i]) {
			if err := s.dropVersion(ctx, groupID, k.ID, snaps[i].Chunks); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAttempts bounds how often Members resolves the pointer again when the version it
// read was replaced and removed under it.
const readAttempts = 5

// errReplaced says a snapshot version disappeared while it was read.
var errReplaced = errors.New("snapshot replaced during the read")

// Members implements greep.GroupStore.
func (s *Store) Members(ctx context.Context, groupID string) ([]greep.Member, error) {
	if err := cache.CheckKey("group id", groupID); err != nil {
		return nil, err
	}
	for attempt := range readAttempts {
		if attempt > 0 {
			if err := sleep(ctx, time.Duration(attempt)*20*time.Millisecond); err != nil {
				return nil, err
			}
		}
		var e groupEntity
		if err := s.client.Get(ctx, s.groupKey(groupID), &e); errors.Is(err, ds.ErrNoSuchEntity) {
			return nil, greep.Errorf(greep.ENOTFOUND, "group %s not found", groupID)
		} else if status.Code(err) == codes.Aborted {
			continue // contention with a writer's transaction on the group
		} else if err != nil {
			return nil, wrap(err, "members of %s", groupID)
		}
		ms, err := s.readVersion(ctx, groupID, e)
		if errors.Is(err, errReplaced) || status.Code(err) == codes.Aborted {
			continue
		}
		if err != nil {
			return nil, wrap(err, "members of %s", groupID)
		}
		return ms, nil
	}
	return nil, greep.Errorf(greep.EINTERNAL, "members of %s: the list was replaced during %d reads in a row", groupID, readAttempts)
}

// readVersion reads the snapshot version e points to. A version's chunks are all
// written before the pointer names it and deleted only after the pointer moves on, so
// a missing chunk means the version was replaced while it was read (errReplaced).
func (s *Store) readVersion(ctx context.Context, groupID string, e groupEntity) ([]greep.Member, error) {
	if e.Version == 0 {
		return []greep.Member{}, nil
	}
	parts := make([][]greep.Member, e.Chunks)
	err := inBatches(ctx, int(e.Chunks), chunksPerCall, func(ctx context.Context, lo, hi int) error {
		ents := make([]chunkEntity, hi-lo)
		err := s.client.GetMulti(ctx, s.chunkKeys(groupID, e.Version, lo, hi), ents)
		var me ds.MultiError
		if errors.As(err, &me) {
			for _, err := range me {
				if errors.Is(err, ds.ErrNoSuchEntity) {
					return errReplaced
				}
			}
		}
		if err != nil {
			return err
		}
		for i, c := range ents {
			v, ms, err := cache.DecodeSnapshot(c.Data)
			if err != nil || v != uint64(e.Version) {
				return greep.Errorf(greep.EINTERNAL, "chunk %d of version %d is corrupt", lo+i, e.Version)
			}
			parts[lo+i] = ms
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]greep.Member, 0, e.Count)
	for _, p := range parts {
		out = append(out, p...)
	}
	if int64(len(out)) != e.Count {
		return nil, greep.Errorf(greep.EINTERNAL, "version %d holds %d members, its group says %d", e.Version, len(out), e.Count)
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MemberOf implements greep.GroupStore.
func (s *Store) MemberOf(ctx context.Context, memberKey string) ([]string, error) {
	if err := cache.CheckKey("member key", memberKey); err != nil {
		return nil, err
	}
	versions := map[string][]int64{} // group id -> versions holding the member
	for _, k := range slices.Compact([]string{memberKey, cache.FoldEmail(memberKey)}) {
		keys, err := s.client.GetAll(ctx, s.query(kindMembers).FilterField("Keys", "=", k).KeysOnly(), nil)
		if err != nil {
			return nil, wrap(err, "groups of %s", memberKey)
		}
		for _, mk := range keys {
			if id, v, ok := parseChunkKey(mk.Name); ok {
				versions[id] = append(versions[id], v)
			}
		}
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range versions {
			if !yield(id) {
				return
			}
		}
	})
	current := make([]bool, len(ids))
	err := inBatches(ctx, len(ids), maxBatch, func(ctx context.Context, lo, hi int) error {
		keys := make([]*ds.Key, hi-lo)
		for i, id := range ids[lo:hi] {
			keys[i] = s.groupKey(id)
		}
		ents := make([]groupEntity, len(keys))
		if err := notFoundOK(s.client.GetMulti(ctx, keys, ents)); err != nil {
			return err
		}
		for i, e := range ents {
			current[lo+i] = e.Version != 0 && slices.Contains(versions[ids[lo+i]], e.Version)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err, "groups of %s", memberKey)
	}
	out := []string{}
	for i, id := range ids {
		if current[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Settings.

type blobEntity struct {
	Data []byte `datastore:",noindex"`
}

// PutSettings implements greep.DirectoryStore.
func (s *Store) PutSettings(ctx context.Context, gs greep.GroupSettings) error {
	if err := cache.CheckKey("group email", gs.GroupEmail); err != nil {
		return err
	}
	data, err := marshal("settings of "+gs.GroupEmail, gs)
	if err != nil {
		return err
	}
	key := s.key(kindSettings, cache.FoldEmail(gs.GroupEmail), nil)
	err = s.runTx(ctx, func(tx *ds.Transaction) error {
		var e blobEntity
		switch err := tx.Get(key, &e); {
		case err == nil:
			var cur greep.GroupSettings
			if err := unmarshal("settings of "+gs.GroupEmail, e.Data, &cur); err != nil {
				return err
			}
			if err := cache.CheckSettingsNewer(gs, cur); err != nil {
				return err
			}
		case !errors.Is(err, ds.ErrNoSuchEntity):
			return err
		}
		_, err := s.txPut(tx, key, &blobEntity{Data: data})
		return err
	})
	return wrap(err, "put settings of %s", gs.GroupEmail)
}

// Settings implements greep.DirectoryStore.
func (s *Store) Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error) {
	if err := cache.CheckKey("group email", groupEmail); err != nil {
		return greep.GroupSettings{}, err
	}
	var e blobEntity
	err := s.client.Get(ctx, s.key(kindSettings, cache.FoldEmail(groupEmail), nil), &e)
	if errors.Is(err, ds.ErrNoSuchEntity) {
		return greep.GroupSettings{}, greep.Errorf(greep.ENOTFOUND, "settings of %s not found", groupEmail)
	}
	if err != nil {
		return greep.GroupSettings{}, wrap(err, "get settings of %s", groupEmail)
	}
	var gs greep.GroupSettings
	return gs, unmarshal("settings", e.Data, &gs)
}

// Events.

type eventEntity struct {
	Time  time.Time // indexed: order and the Since filter
	Group string    // folded; indexed: the Group filter
	Data  []byte    `datastore:",noindex"`
}

// AddEvents implements greep.EventStore. The key is the event's id, so de-duplication is
// a transactional get-then-put per batch of 25 (each event is its own entity group).
func (s *Store) AddEvents(ctx context.Context, events []greep.Event) (int, error) {
	ents := make([]eventEntity, 0, len(events))
	keys := make([]*ds.Key, 0, len(events))
	seen := map[string]bool{}
	for _, e := range events {
		if err := cache.CheckKey("event id", e.ID); err != nil {
			return 0, err
		}
		if e.Group != "" {
			if err := cache.CheckKey("event group", e.Group); err != nil {
				return 0, err
			}
		}
		data, err := marshal("event "+e.ID, e)
		if err != nil {
			return 0, err
		}
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		ents = append(ents, eventEntity{Time: e.Time, Group: cache.FoldEmail(e.Group), Data: data})
		keys = append(keys, s.key(kindEvent, e.ID, nil))
	}
	var (
		mu    sync.Mutex
		added int
	)
	err := inBatches(ctx, len(keys), txEntityGroups, func(ctx context.Context, lo, hi int) error {
		n := 0
		err := s.runTx(ctx, func(tx *ds.Transaction) error {
			n = 0
			cur := make([]ds.PropertyList, hi-lo) // only existence matters
			err := tx.GetMulti(keys[lo:hi], cur)
			var me ds.MultiError
			if err != nil && !errors.As(err, &me) {
				return err
			}
			var newKeys []*ds.Key
			var newEnts []eventEntity
			for i := range cur {
				if me == nil || me[i] == nil {
					continue // recorded already
				}
				if !errors.Is(me[i], ds.ErrNoSuchEntity) {
					return me[i]
				}
				newKeys, newEnts = append(newKeys, keys[lo+i]), append(newEnts, ents[lo+i])
			}
			n = len(newKeys)
			if n == 0 {
				return nil
			}
			_, err = s.txPutMulti(tx, newKeys, newEnts)
			return err
		})
		mu.Lock()
		if err == nil {
			added += n
		}
		mu.Unlock()
		return err
	})
	return added, wrap(err, "add events")
}

// Events implements greep.EventStore.
func (s *Store) Events(ctx context.Context, q greep.EventQuery) ([]greep.Event, string, error) {
	dq := s.query(kindEvent)
	if q.Group != "" {
		dq = dq.FilterField("Group", "=", cache.FoldEmail(q.Group))
	}
	if !q.Since.IsZero() {
		dq = dq.FilterField("Time", ">=", q.Since)
	}
	dq = dq.Order("Time").Order("__key__")
	var out []greep.Event
	next, err := s.page(ctx, dq, q.Token, cache.PageSize(q.Page), func(it *ds.Iterator) error {
		var e eventEntity
		if _, err := it.Next(&e); err != nil {
			return err
		}
		var ev greep.Event
		if err := unmarshal("event", e.Data, &ev); err != nil {
			return err
		}
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// PruneEvents implements greep.EventStore. Each event is its own entity, so the oldest
// are found by the built-in Time index and deleted without a transaction.
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	keys, err := s.client.GetAll(ctx, s.query(kindEvent).FilterField("Time", "<", cutoff).Order("Time").KeysOnly().Limit(min(limit, maxBatch)), nil)
	if err != nil {
		return 0, wrap(err, "prune events")
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if err := s.deleteMulti(ctx, keys); err != nil {
		return 0, wrap(err, "prune events")
	}
	return len(keys), nil
}

// Findings.

type findingEntity struct {
	State string // indexed: the State filter
	Group string // folded; indexed: the Group filter
	Data  []byte `datastore:",noindex"`
}

// UpdateFinding implements greep.FindingStore. fn may run more than once when the
// transaction meets contention; only its last run's result is written.
func (s *Store) UpdateFinding(ctx context.Context, id string, fn func(f *greep.Finding) error) (greep.Finding, error) {
	if err := cache.CheckKey("finding id", id); err != nil {
		return greep.Finding{}, err
	}
	k := s.key(kindFinding, id, nil)
	unlock, err := s.locks.lock(ctx, kindFinding+"/"+id)
	if err != nil {
		return greep.Finding{}, wrap(err, "update finding %s", id)
	}
	defer unlock()
	var f greep.Finding
	err = s.runTx(ctx, func(tx *ds.Transaction) error {
		f = greep.Finding{}
		var e findingEntity
		if err := tx.Get(k, &e); err == nil {
			if err := unmarshal("finding", e.Data, &f); err != nil {
				return err
			}
		} else if !errors.Is(err, ds.ErrNoSuchEntity) {
			return err
		}
		if err := fn(&f); err != nil {
			return err
		}
		if f.ID == "" {
			f.ID = id
		}
		if f.ID != id {
			return greep.Errorf(greep.EINVALID, "finding %s: the update changed its id to %q", id, f.ID)
		}
		data, err := marshal("finding "+id, f)
		if err != nil {
			return err
		}
		_, err = s.txPut(tx, k, &findingEntity{State: f.State, Group: cache.FoldEmail(f.Group), Data: data})
		return err
	})
	if err != nil {
		return greep.Finding{}, wrap(err, "update finding %s", id)
	}
	return f, nil
}

// Finding implements greep.FindingStore.
func (s *Store) Finding(ctx context.Context, id string) (greep.Finding, error) {
	if err := cache.CheckKey("finding id", id); err != nil {
		return greep.Finding{}, err
	}
	var e findingEntity
	err := s.client.Get(ctx, s.key(kindFinding, id, nil), &e)
	if errors.Is(err, ds.ErrNoSuchEntity) {
		return greep.Finding{}, greep.Errorf(greep.ENOTFOUND, "finding %s not found", id)
	}
	if err != nil {
		return greep.Finding{}, wrap(err, "get finding %s", id)
	}
	var f greep.Finding
	return f, unmarshal("finding", e.Data, &f)
}

// Findings implements greep.FindingStore; findings come in id order.
func (s *Store) Findings(ctx context.Context, q greep.FindingQuery) ([]greep.Finding, string, error) {
	dq := s.query(kindFinding)
	if q.State != "" {
		dq = dq.FilterField("State", "=", q.State)
	}
	if q.Group != "" {
		dq = dq.FilterField("Group", "=", cache.FoldEmail(q.Group))
	}
	var out []greep.Finding
	next, err := s.page(ctx, dq.Order("__key__"), q.Token, cache.PageSize(q.Page), func(it *ds.Iterator) error {
		var e findingEntity
		if _, err := it.Next(&e); err != nil {
			return err
		}
		var f greep.Finding
		if err := unmarshal("finding", e.Data, &f); err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// State and counters.

// State implements greep.StateStore.
func (s *Store) State(ctx context.Context, name string) ([]byte, error) {
	if err := cache.CheckKey("state name", name); err != nil {
		return nil, err
	}
	var e blobEntity
	err := s.client.Get(ctx, s.key(kindState, name, nil), &e)
	if errors.Is(err, ds.ErrNoSuchEntity) {
		return nil, greep.Errorf(greep.ENOTFOUND, "state %s not found", name)
	}
	if err != nil {
		return nil, wrap(err, "get state %s", name)
	}
	if e.Data == nil {
		e.Data = []byte{}
	}
	return e.Data, nil
}

// UpdateState implements greep.StateStore. fn returning nil deletes the document. fn
// may run more than once under contention.
func (s *Store) UpdateState(ctx context.Context, name string, fn func(cur []byte) ([]byte, error)) error {
	if err := cache.CheckKey("state name", name); err != nil {
		return err
	}
	k := s.key(kindState, name, nil)
	unlock, err := s.locks.lock(ctx, kindState+"/"+name)
	if err != nil {
		return wrap(err, "update state %s", name)
	}
	defer unlock()
	return wrap(s.runTx(ctx, func(tx *ds.Transaction) error {
		var e blobEntity
		var cur []byte
		if err := tx.Get(k, &e); err == nil {
			cur = e.Data
			if cur == nil {
				cur = []byte{}
			}
		} else if !errors.Is(err, ds.ErrNoSuchEntity) {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next == nil {
			return s.txDelete(tx, k)
		}
		if err := cache.CheckSize("state "+name, len(next)); err != nil {
			return err
		}
		_, err = s.txPut(tx, k, &blobEntity{Data: next})
		return err
	}), "update state %s", name)
}

type shardEntity struct {
	N int64 `datastore:",noindex"`
}

func (s *Store) shardKeys(name string) []*ds.Key {
	parent := s.key(kindCounter, name, nil)
	keys := make([]*ds.Key, counterShards)
	for i := range keys {
		keys[i] = s.key(kindCounterShard, strconv.Itoa(i), parent)
	}
	return keys
}

// nextShard picks the shard of a counter's next write: in turn, from a point picked at
// random per process. Writers in flight at once in this process then write different
// shards (up to counterShards of them), where shards picked at random meet often (16
// writers on 16 shards: two on one in most rounds), and a read-modify-write that meets
// another on Firestore's locks waits or aborts (BenchmarkConcurrentCounts).
func (s *Store) nextShard() int {
	return int(s.shard.Add(1) % counterShards)
}

// AddCount implements greep.StateStore. The delta goes to one shard (nextShard);
// the total returned is the sum of the shards read just after, so it includes this
// delta and whatever other writers added meanwhile.
func (s *Store) AddCount(ctx context.Context, name string, delta int64) (int64, error) {
	if err := cache.CheckKey("counter name", name); err != nil {
		return 0, err
	}
	k := s.shardKeys(name)[s.nextShard()]
	err := s.runTxAttempts(ctx, countAttempts, func(tx *ds.Transaction) error {
		var e shardEntity
		if err := tx.Get(k, &e); err != nil && !errors.Is(err, ds.ErrNoSuchEntity) {
			return err
		}
		e.N += delta
		_, err := s.txPut(tx, k, &e)
		return err
	})
	if err != nil {
		return 0, wrap(err, "add to counter %s", name)
	}
	return s.Count(ctx, name)
}

// Count implements greep.StateStore.
func (s *Store) Count(ctx context.Context, name string) (int64, error) {
	if err := cache.CheckKey("counter name", name); err != nil {
		return 0, err
	}
	shards := make([]shardEntity, counterShards)
	if err := notFoundOK(s.client.GetMulti(ctx, s.shardKeys(name), shards)); err != nil {
		return 0, wrap(err, "read counter %s", name)
	}
	var total int64
	for _, sh := range shards {
		total += sh.N
	}
	return total, nil
}

// Records.

func (s *Store) recordKey(kind, id string) *ds.Key {
	return s.key(kindRecord, id, s.key(kindRecordKind, kind, nil))
}

// CreateRecord implements greep.RecordStore.
func (s *Store) CreateRecord(ctx context.Context, kind, id string, data []byte) error {
	if err := cache.CheckRecord(kind, id, data); err != nil {
		return err
	}
	k := s.recordKey(kind, id)
	return wrap(s.runTx(ctx, func(tx *ds.Transaction) error {
		var e blobEntity
		err := tx.Get(k, &e)
		if err == nil {
			return greep.Errorf(greep.ECONFLICT, "record %s/%s already exists", kind, id)
		}
		if !errors.Is(err, ds.ErrNoSuchEntity) {
			return err
		}
		_, err = s.txPut(tx, k, &blobEntity{Data: data})
		return err
	}), "create record %s/%s", kind, id)
}

// PutRecord implements greep.RecordStore.
func (s *Store) PutRecord(ctx context.Context, kind, id string, data []byte) error {
	if err := cache.CheckRecord(kind, id, data); err != nil {
		return err
	}
	_, err := s.put(ctx, s.recordKey(kind, id), &blobEntity{Data: data})
	return wrap(err, "put record %s/%s", kind, id)
}

// DeleteRecord implements greep.RecordStore.
func (s *Store) DeleteRecord(ctx context.Context, kind, id string) error {
	if err := cache.CheckRecord(kind, id, nil); err != nil {
		return err
	}
	err := s.delete(ctx, s.recordKey(kind, id))
	if errors.Is(err, ds.ErrNoSuchEntity) {
		return nil
	}
	return wrap(err, "delete record %s/%s", kind, id)
}

// maxDeleteMulti is Datastore's limit on the keys of one DeleteMulti.
const maxDeleteMulti = 500

// DeleteRecords implements greep.RecordStore: one DeleteMulti per 500 ids.
func (s *Store) DeleteRecords(ctx context.Context, kind string, ids []string) error {
	for _, id := range ids {
		if err := cache.CheckRecord(kind, id, nil); err != nil {
			return err
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), maxDeleteMulti)
		keys := make([]*ds.Key, n)
		for i, id := range ids[:n] {
			keys[i] = s.recordKey(kind, id)
		}
		if err := s.deleteMulti(ctx, keys); err != nil && !allNoSuchEntity(err) {
			return wrap(err, "delete %d records of %s", n, kind)
		}
		ids = ids[n:]
	}
	return nil
}

// allNoSuchEntity reports whether err only says some keys did not exist.
func allNoSuchEntity(err error) bool {
	var multi ds.MultiError
	if !errors.As(err, &multi) {
		return errors.Is(err, ds.ErrNoSuchEntity)
	}
	for _, e := range multi {
		if e != nil && !errors.Is(e, ds.ErrNoSuchEntity) {
			return false
		}
	}
	return true
}

// recordBatch is how many records Records reads per query.
const recordBatch = 256

// Records implements greep.RecordStore. fn runs between queries, on records read in
// batches (strongly consistent ancestor queries): it may call the store, and a record
// written during the walk may or may not be seen.
func (s *Store) Records(ctx context.Context, kind string, fn func(id string, data []byte) error) error {
	if err := cache.CheckKey("record kind", kind); err != nil {
		return err
	}
	q := s.query(kindRecord).Ancestor(s.key(kindRecordKind, kind, nil)).Order("__key__")
	token := ""
	for {
		var (
			ids  []string
			data [][]byte
		)
		next, err := s.page(ctx, q, token, recordBatch, func(it *ds.Iterator) error {
			var e blobEntity
			k, err := it.Next(&e)
			if err != nil {
				return err
			}
			if e.Data == nil {
				e.Data = []byte{}
			}
			ids, data = append(ids, k.Name), append(data, e.Data)
			return nil
		})
		if err != nil {
			return wrap(err, "list records %s", kind)
		}
		for i, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(id, data[i]); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}
