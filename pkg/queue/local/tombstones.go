package local

import (
	"container/heap"
	"time"

	"go.uber.org/zap"
)

// pruneBatch is how many expired names one store call deletes (Datastore's store splits
// it into DeleteMulti calls of 500): few enough to pop from the heap in a few
// milliseconds under the dispatcher's lock, and enough for a pruning's names in one call.
// Names are spread over the whole bucket in key order, so every call rewrites most of
// the bucket's pages on bbolt however few names it deletes.
const pruneBatch = 20_000

// pruneEvery is the least time, on the dispatcher's clock, between two prunings: the
// tombstones of a sync end one by one, an hour after each task, and pruning each as it
// ends would commit a store transaction for every name or two. At a minute, the origin's
// sync and settings sweep (87,000 names) were pruned in about 50 calls that each
// rewrote most of the names' pages: 70% of the idle process's CPU at 10x. A name stays
// taken up to this much longer than Tombstone, which Cloud Tasks' own window (an hour to
// days) allows.
const pruneEvery = 10 * time.Minute

// expiry is when a name's tombstone ends.
type expiry struct {
	at  time.Time
	key string
}

// expiries is a min-heap of tombstone ends. A name taken again before the janitor reached
// it leaves a stale entry behind, skipped when it comes up: each entry is checked
// against the name's current state.
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

// expireAt schedules the end of key's tombstone, waking the janitor if it is now the
// earliest. Called with d.mu held.
func (d *Dispatcher) expireAt(key string, at time.Time) {
	heap.Push(&d.expiries, expiry{at: at, key: key})
	if d.expiries[0].key == key {
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

// prune deletes up to pruneBatch expired tombstones, one store call outside the
// dispatcher's lock, and returns how many it took. A name that ran again while the call
// ran has a new tombstone, which the call may have deleted: it is written back. (A name
// queued again needs no record: its task's record holds it.)
func (d *Dispatcher) prune() int {
	now := d.clock.Now()
	d.mu.Lock()
	var keys []string
	for len(d.expiries) > 0 && len(keys) < pruneBatch && !d.expiries[0].at.After(now) {
		e := heap.Pop(&d.expiries).(expiry)
		if n, ok := d.names[e.key]; ok && n.Expires.Equal(e.at) {
			delete(d.names, e.key)
			keys = append(keys, e.key)
		}
	}
	d.mu.Unlock()
	if len(keys) == 0 {
		return 0
	}
	if err := d.store.DeleteRecords(d.ctx, kindName, keys); err != nil {
		// Left in the store, they are pruned when the dispatcher next opens.
		d.log.Warn("queue: pruning expired task names", zap.Int("names", len(keys)), zap.Error(err))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, key := range keys {
		if n, ok := d.names[key]; ok && !n.Expires.IsZero() {
			if err := d.putName(d.ctx, key, n); err != nil {
				d.log.Error("queue: restoring a task name taken while it was pruned", zap.String("name", key), zap.Error(err))
			}
		}
	}
	return len(keys)
}
