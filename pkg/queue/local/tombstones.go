package local

import (
	"container/heap"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// A name's tombstone is a record keyed by when it ends, then the name
// ("20060102T150405.000000000Z/queue/n-name"), with nothing in it: a task's completion
// writes it at the end of the kind's keys, beside the others of its time, not on a page of
// its own among every name (one page fewer a task on bbolt), and pruning deletes a run of
// keys from the start. A name that runs again gets a second record with a later end; the
// first is pruned when it ends, as a record apart, so pruning never deletes a tombstone
// made while it ran.

// pruneBatch is how many expired names one store call deletes (Datastore's store splits
// it into DeleteMulti calls of 500): few enough to pop from the heap in a few
// milliseconds under the dispatcher's lock, and enough for a pruning's names in one call.
const pruneBatch = 20_000

// pruneEvery is the least time, on the dispatcher's clock, between two prunings: the
// tombstones of a sync end one by one, an hour after each task, and pruning each as it
// ends would commit a store transaction for every name or two. At a minute, the origin's
// sync and settings sweep (87,000 names) were pruned in about 50 calls that each
// rewrote most of the names' pages: 70% of the idle process's CPU at 10x. A name stays
// taken up to this much longer than Tombstone, which Cloud Tasks' own window (an hour to
// days) allows.
const pruneEvery = 10 * time.Minute

// expiry is when a name's tombstone ends, and its record.
type expiry struct {
	at       time.Time
	key      string // the name: queue/n-name
	kind, id string // the record
}

func newExpiry(key string, at time.Time) expiry {
	at = at.UTC()
	return expiry{at: at, key: key, kind: kindTomb, id: at.Format(keyTime) + "/" + key}
}

// parseTombID reads a tombstone record's id (fuzzed).
func parseTombID(id string) (expiry, error) {
	ts, key, ok := strings.Cut(id, "/")
	if !ok || key == "" {
		return expiry{}, fmt.Errorf("tombstone %q: want time/name", id)
	}
	at, err := time.Parse(keyTime, ts)
	if err != nil {
		return expiry{}, fmt.Errorf("tombstone %q: %w", id, err)
	}
	return expiry{at: at, key: key, kind: kindTomb, id: id}, nil
}

// expiries is a min-heap of tombstone ends. A name taken again before the janitor reached
// it leaves an entry behind whose record is pruned when it comes up, while the name stays
// as it is: each entry is checked against the name's current state.
type expiries []expiry

func (h expiries) Len() int           { return len(h) }
func (h expiries) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiries) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiries) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiries) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// tombstoned takes e's name until e ends and schedules its pruning, waking the janitor
// if it is now the earliest. Called with d.mu held, once e's record is stored.
func (d *Dispatcher) tombstoned(e expiry) {
	d.names[e.key] = nameState{Expires: e.at}
	heap.Push(&d.expiries, e)
	if d.expiries[0].id == e.id {
		select {
		case d.janitorWake <- struct{}{}:
		default:
		}
	}
}

// janitor forgets tombstones once they expire, in memory and in the store. It sleeps
// until the earliest tombstone ends (or one ending earlier is made), and at least
// pruneEvery after its last pruning: an idle dispatcher does not wake it.
func (d *Dispatcher) janitor() {
	var pruned time.Time
	for {
		d.mu.Lock()
		next, ok := time.Time{}, len(d.expiries) > 0
		if ok {
			next = d.expiries[0].at
		}
		d.mu.Unlock()
		var due <-chan time.Time
		if ok {
			due = d.clock.At(later(next, pruned.Add(pruneEvery)))
		}
		select {
		case <-due:
		case <-d.janitorWake:
		case <-d.done:
			return
		}
		if n := d.prune(); n > 0 {
			pruned = d.clock.Now()
			for n == pruneBatch {
				n = d.prune()
			}
		}
	}
}

// prune deletes up to pruneBatch expired tombstones, one store call (a kind) outside the
// dispatcher's lock, and returns how many it took. A name that ran again meanwhile has a
// record of its own, which the call does not touch.
func (d *Dispatcher) prune() int {
	now := d.clock.Now()
	ids := map[string][]string{}
	n := 0
	d.mu.Lock()
	for len(d.expiries) > 0 && n < pruneBatch && !d.expiries[0].at.After(now) {
		e := heap.Pop(&d.expiries).(expiry)
		if cur, ok := d.names[e.key]; ok && cur.Expires.Equal(e.at) {
			delete(d.names, e.key)
		}
		ids[e.kind] = append(ids[e.kind], e.id)
		n++
	}
	d.mu.Unlock()
	for kind, batch := range ids {
		if err := d.store.DeleteRecords(d.ctx, kind, batch); err != nil {
			// Left in the store, they are pruned when the dispatcher next opens.
			d.log.Warn("queue: pruning expired task names", zap.Int("names", len(batch)), zap.Error(err))
		}
	}
	return n
}
