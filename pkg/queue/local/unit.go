package local

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
)

// A task run's unit of work: what its handler leaves in the queue.Batch, the tasks it
// enqueues and the task's own completion (its name's tombstone, its record deleted) are
// committed in one store transaction when it succeeds, instead of a transaction for each
// (a one-page members.list task went from about nine to one, besides the quota guard's
// reservation, which must commit before the call). The tasks it enqueued are queued once
// that commit is in, so none runs before the writes of the task that made it.

// maxDeferred bounds the tasks one run enqueues into its unit; beyond it they are stored
// at once, as outside a run, so a unit stays a reasonable single commit.
const maxDeferred = 250

type unitKey struct{}

// unit is one run's batch and the tasks it enqueued; tasks and closed are guarded by the
// dispatcher's mu, which also orders the names they claim.
type unit struct {
	batch  *queue.Batch
	tasks  []*stored
	closed bool
}

// newUnit returns a run's unit and its context, or (nil, ctx) when the store cannot
// commit one.
func (d *Dispatcher) newUnit(ctx context.Context) (*unit, context.Context) {
	if d.committer == nil {
		return nil, ctx
	}
	u := &unit{batch: &queue.Batch{}}
	ctx = queue.WithBatch(ctx, u.batch)
	return u, context.WithValue(ctx, unitKey{}, u)
}

// deferTo reports the open unit of the run ctx belongs to, if the task can wait for its
// commit. Called with d.mu held.
func deferTo(ctx context.Context) *unit {
	u, _ := ctx.Value(unitKey{}).(*unit)
	if u == nil || u.closed || len(u.tasks) >= maxDeferred {
		return nil
	}
	return u
}

// close ends the unit: later enqueues of the run (a goroutine it left behind) are stored
// at once. It returns the handler's writes, the tasks to queue and the after-commit hooks.
func (d *Dispatcher) closeUnit(u *unit) (*greep.Writes, []*stored, []func(context.Context)) {
	d.mu.Lock()
	u.closed = true
	tasks := u.tasks
	d.mu.Unlock()
	w, after := u.batch.Close()
	return w, tasks, after
}

// drop forgets a unit whose run failed: the names its tasks claimed are free again.
func (d *Dispatcher) drop(u *unit) {
	_, tasks, _ := d.closeUnit(u)
	d.mu.Lock()
	for _, t := range tasks {
		if t.Name != "" {
			delete(d.names, t.key())
		}
	}
	d.mu.Unlock()
}

// complete commits a run that is done (succeeded, or failed its last attempt: then its
// handler's writes are dropped) with its unit, then queues the tasks it enqueued and runs
// its hooks. A failed commit leaves everything as it was before the run.
func (d *Dispatcher) complete(ctx, store context.Context, t *stored, u *unit, succeeded bool, r *runner) error {
	w, tasks, after := d.closeUnit(u)
	if !succeeded {
		w, after = &greep.Writes{}, nil
	}
	var tomb expiry
	if t.Name != "" {
		tomb = newExpiry(t.key(), d.clock.Now().Add(d.tombstone))
		w.Puts = append(w.Puts, greep.Record{Kind: kindTomb, ID: tomb.id})
	}
	w.Deletes = append(w.Deletes, greep.RecordKey{Kind: kindTask, ID: t.record})
	for _, nt := range tasks {
		b, err := json.Marshal(nt)
		if err != nil {
			r.leave(store)
			return err
		}
		w.Puts = append(w.Puts, greep.Record{Kind: kindTask, ID: nt.record, Data: b})
	}
	if err := r.commit(store, d.committer, w); err != nil {
		d.mu.Lock()
		for _, nt := range tasks {
			if nt.Name != "" {
				delete(d.names, nt.key())
			}
		}
		d.mu.Unlock()
		return fmt.Errorf("queue: committing task %s: %w", t.key(), err)
	}
	d.mu.Lock()
	if t.Name != "" {
		d.tombstoned(tomb)
	}
	d.mu.Unlock()
	for _, nt := range tasks {
		d.lanes[nt.Queue].push(nt)
	}
	for _, fn := range after {
		fn(ctx)
	}
	return nil
}
