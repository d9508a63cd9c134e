package datastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	ds "cloud.google.com/go/datastore"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// The change feed's sequencer (docs/storage.md, "The change feed").
//
// Numbering records in the transaction that changes the cache made every such
// transaction of the tenant read and write the one ChangeLog entity: on Firestore in
// Datastore mode, which locks, concurrent writers then abort each other ("concurrent
// transaction"), and a sweep's concurrent member swaps mostly failed
// (BenchmarkConcurrentSwaps). So a transaction only stages its records, beside the group
// they describe: a PendingChange entity in the group's own entity group, stamped after
// the group's last stamp (a ChangeStamp entity there, never deleted). Nothing outside the
// group is written, so writers to different groups never meet, and writers to one group
// already meet on the group entity, so its stamps follow its commit order.
//
// The sequencer moves staged records into the log: one transaction reads the head, the
// oldest staged entities (by stamp), numbers their records after the head, writes them
// as Change entities with the new head, and deletes what it took. Only sequencers write
// the head, so a cursor is still committed only after every smaller one. The process
// that staged records sequences them at once in the background, one round for all the
// records staged meanwhile; any round takes every staged record, so records a process
// staged before it died go with the next round anywhere. A reader of the feed in the
// process that wrote (Changes, ChangeLog, PruneChanges) first waits until what the
// process staged is in the log, so a process reads its own writes; another process sees
// them one round later.

const (
	kindPending = "PendingChange"
	kindStamp   = "ChangeStamp"
	// sequenceScan is how many staged entities one round looks at: with a Change entity
	// and a delete each, and the head, within a commit's 500 entities.
	sequenceScan = 200
	// sequenceBytes bounds the staged records (compressed) one round moves, well under
	// a commit's 10 MiB.
	sequenceBytes = 4 << 20
	// sequenceRetryMax bounds the wait before a failed background round is tried again.
	sequenceRetryMax = time.Minute
)

type pendingEntity struct {
	Stamp int64  // indexed: a round takes the oldest first
	Data  []byte `datastore:",noindex"` // gzip of a JSON array of greep.Change
}

type stampEntity struct {
	Last int64 `datastore:",noindex"`
}

// sequencer is the process's side of the sequencing: what it staged, what is in the
// log, and the background round.
type sequencer struct {
	// now stamps staged records; tests turn it back to show a group's order does not
	// depend on it.
	now func() time.Time
	// manual, set by tests, leaves staged records staged until a reader flushes.
	manual bool

	mu      sync.Mutex // one round at a time in this process
	staged  atomic.Int64
	flushed int64        // staged's value every record of which is in the log; under mu
	rounds  atomic.Int64 // rounds that wrote the log, for BenchmarkConcurrentSwaps

	kick    chan struct{}
	stop    chan struct{}
	start   sync.Once
	closing sync.Once
	loop    sync.WaitGroup
}

func newSequencer() *sequencer {
	return &sequencer{now: time.Now, kick: make(chan struct{}, 1), stop: make(chan struct{})}
}

// pendingKey is a staged entity's key: in the group's entity group, named by its stamp so
// that a group's staged records list in their order.
func (s *Store) pendingKey(groupID string, stamp int64) *ds.Key {
	return s.key(kindPending, fmt.Sprintf("%020d", stamp), s.groupKey(groupID))
}

func (s *Store) stampKey(groupID string) *ds.Key {
	return s.key(kindStamp, "stamp", s.groupKey(groupID))
}

// stage writes changes into tx as staged records, in each group's entity group.
func (s *Store) stage(tx *ds.Transaction, changes []greep.Change) error {
	if len(changes) == 0 {
		return nil
	}
	var ids []string
	byGroup := map[string][]greep.Change{}
	for _, c := range changes {
		if c.GroupID == "" {
			return greep.Errorf(greep.EINTERNAL, "a change record (%s) names no group", c.Kind)
		}
		if _, ok := byGroup[c.GroupID]; !ok {
			ids = append(ids, c.GroupID)
		}
		byGroup[c.GroupID] = append(byGroup[c.GroupID], c)
	}
	stampKeys := make([]*ds.Key, len(ids))
	for i, id := range ids {
		stampKeys[i] = s.stampKey(id)
	}
	stamps := make([]stampEntity, len(ids))
	if err := notFoundOK(tx.GetMulti(stampKeys, stamps)); err != nil {
		return err
	}
	// The wall clock orders different groups' records roughly by age, so the oldest go
	// first; a group's own order is its stamp entity's, read and written here, which a
	// clock behind another instance's cannot turn back.
	now := s.seq.now().UnixNano()
	var (
		keys []*ds.Key
		ents []any
	)
	for i, id := range ids {
		chunks, err := encodeChanges(byGroup[id])
		if err != nil {
			return err
		}
		for _, c := range chunks {
			stamp := max(now, stamps[i].Last+1)
			stamps[i].Last = stamp
			keys = append(keys, s.pendingKey(id, stamp))
			ents = append(ents, &pendingEntity{Stamp: stamp, Data: c.data})
		}
		keys, ents = append(keys, stampKeys[i]), append(ents, &stamps[i])
	}
	_, err := s.txPutMulti(tx, keys, ents)
	return err
}

// staged is called after a commit that staged records: the background round takes them.
func (s *Store) staged() {
	s.seq.staged.Add(1)
	select {
	case <-s.seq.stop: // closed: the next round anywhere takes them
		return
	default:
	}
	if s.seq.manual {
		return
	}
	s.seq.start.Do(func() {
		s.seq.loop.Add(1)
		go s.sequenceLoop()
	})
	select {
	case s.seq.kick <- struct{}{}:
	default: // a round is already due, and takes these too
	}
}

// sequenceLoop runs a round whenever records were staged, until Close. A failed round
// is tried again after a wait that doubles up to sequenceRetryMax; meanwhile a reader
// here, or any later round, takes the records instead.
func (s *Store) sequenceLoop() {
	defer s.seq.loop.Done()
	// Close cancels a round under way rather than wait for it: what it leaves staged
	// goes with the next round anywhere.
	base, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		<-s.seq.stop
		stop()
	}()
	retry := time.Second
	for {
		select {
		case <-s.seq.stop:
			return
		case <-s.seq.kick:
		}
		ctx, cancel := context.WithTimeout(base, time.Minute)
		err := s.flush(ctx)
		cancel()
		if err == nil {
			retry = time.Second
			continue
		}
		t := time.NewTimer(retry)
		select {
		case <-s.seq.stop:
			t.Stop()
			return
		case <-t.C:
		}
		retry = min(2*retry, sequenceRetryMax)
		select {
		case s.seq.kick <- struct{}{}:
		default:
		}
	}
}

// closeSequencer stops the background round, waiting for one under way.
func (s *Store) closeSequencer() {
	s.seq.closing.Do(func() { close(s.seq.stop) })
	s.seq.loop.Wait()
}

// flush returns once every record this process staged before the call is in the log,
// running a round if none has taken them yet.
func (s *Store) flush(ctx context.Context) error {
	want := s.seq.staged.Load()
	s.seq.mu.Lock()
	defer s.seq.mu.Unlock()
	if s.seq.flushed >= want {
		return nil
	}
	upto := s.seq.staged.Load() // every record counted here is committed, so the round finds it
	n, err := s.sequence(ctx)
	if n > 0 {
		s.changed.Notify()
	}
	if err != nil {
		return wrap(err, "sequence change records")
	}
	s.seq.flushed = upto
	return nil
}

// sequence moves staged records into the log, oldest first, until none is left or a
// round finds nothing left to take, and returns how many it numbered. It relies on
// strongly consistent queries (Firestore in Datastore mode; the emulator with
// --consistency=1.0): a group's older staged record is never missing from the list
// while a newer one is in it.
func (s *Store) sequence(ctx context.Context) (int, error) {
	total := 0
	for {
		keys, err := s.client.GetAll(ctx, s.query(kindPending).Order("Stamp").Limit(sequenceScan).KeysOnly(), nil)
		if err != nil {
			return total, err
		}
		if len(keys) == 0 {
			return total, nil
		}
		n, err := s.sequenceRound(ctx, groupPrefix(keys, txEntityGroups-1))
		if n > 0 {
			s.seq.rounds.Add(1)
		}
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// groupPrefix returns the longest prefix of keys in at most n entity groups, so that a
// round with the log stays within a transaction's entity groups. A group's staged
// records are in stamp order in keys, so a prefix never takes one of them before an
// older one.
func groupPrefix(keys []*ds.Key, n int) []*ds.Key {
	seen := map[string]bool{}
	for i, k := range keys {
		g := k.Parent.Name
		if !seen[g] && len(seen) == n {
			return keys[:i]
		}
		seen[g] = true
	}
	return keys
}

// sequenceRound numbers the staged records of keys that are still staged (another
// round may have taken some) after the head, in keys' order, in one transaction.
func (s *Store) sequenceRound(ctx context.Context, keys []*ds.Key) (int, error) {
	n := 0
	err := s.runTx(ctx, func(tx *ds.Transaction) error {
		n = 0
		var l changeLogEntity
		if err := tx.Get(s.changeLogKey(), &l); err != nil && !errors.Is(err, ds.ErrNoSuchEntity) {
			return err
		}
		ents := make([]pendingEntity, len(keys))
		err := tx.GetMulti(keys, ents)
		if err = notFoundOK(err); err != nil {
			return err
		}
		// Each staged entity becomes Change entities of its own: its records are one
		// commit's and share its time, which pruning goes by.
		var (
			runs  [][]greep.Change
			taken []*ds.Key
			size  int
		)
		for i, k := range keys {
			if ents[i].Data == nil { // taken by another round
				continue
			}
			if len(taken) > 0 && size+len(ents[i].Data) > sequenceBytes {
				break
			}
			rs, err := decompress(ents[i].Data)
			if err != nil {
				return err
			}
			size += len(ents[i].Data)
			runs = append(runs, rs)
			taken = append(taken, k)
		}
		if len(taken) == 0 {
			return nil
		}
		head := uint64(l.Head)
		for _, rs := range runs {
			head = cache.Number(rs, head)
			if err := s.writeChanges(tx, rs); err != nil {
				return err
			}
			n += len(rs)
		}
		l.Head = int64(head)
		if _, err := s.txPut(tx, s.changeLogKey(), &l); err != nil {
			return err
		}
		return s.txDeleteMulti(tx, taken)
	})
	return n, err
}
