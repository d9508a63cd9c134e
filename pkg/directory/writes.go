package directory

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
)

// A sweep task's writes go to its run's unit of work when the queue gives one
// (queue.Batch): its call count, its snapshot, its done marker and count are committed
// with the task's completion and the tasks it enqueued, one store transaction for the
// task. Without a unit (Cloud Tasks, a direct call) each is written at once, as before.
// Only what nothing later in the same run reads back goes to the unit; what must see the
// committed counts (whether the sweep is finished) runs after the commit.

// replaceMembers stores a sweep's one-page member list, in the run's unit if there is one.
func (w *Worker) replaceMembers(ctx context.Context, groupID string, members []greep.Member, etag string, readAt time.Time) error {
	b := queue.BatchFrom(ctx)
	if b.Add(func(wr *greep.Writes) {
		wr.Members = append(wr.Members, greep.MembersWrite{GroupID: groupID, Members: members, ETag: etag, SyncedAt: readAt, Cause: greep.CauseOf(ctx)})
	}) {
		return nil
	}
	return w.cfg.Store.ReplaceMembers(ctx, groupID, members, etag, readAt)
}

// mark creates the marker kind/id and, only if it is new, adds delta to the counter
// name: in the run's unit if there is one (then maybeFinish(gen) runs after the commit),
// else at once (and maybeFinish is left to the caller, which it tells by first).
func (w *Worker) mark(ctx context.Context, gen int64, kind, id string, data []byte, name string, delta int64) (deferred, first bool, err error) {
	b := queue.BatchFrom(ctx)
	if b.Add(func(wr *greep.Writes) {
		wr.Marks = append(wr.Marks, greep.Mark{Kind: kind, ID: id, Data: data, Counter: name, Delta: delta})
	}) {
		w.finishAfterCommit(b, gen)
		return true, false, nil
	}
	return w.markNow(ctx, gen, kind, id, data, name, delta)
}

// markNow is mark outside any unit of work.
func (w *Worker) markNow(ctx context.Context, _ int64, kind, id string, data []byte, name string, delta int64) (deferred, first bool, err error) {
	if first, err = w.once(ctx, kind, id, data); err != nil || !first {
		return false, first, err
	}
	if err := w.addCount(ctx, name, delta, kind, id); err != nil {
		return false, true, fmt.Errorf("counting %s: %w", id, err)
	}
	return false, true, nil
}

// finishAfterCommit has the unit b, once committed, enqueue the sweep's finish if its
// counts say it is complete; once per unit however many groups it marked done. A
// failure is left to the resync cron, whose Resume enqueues the finish of a sweep
// whose counts are complete.
func (w *Worker) finishAfterCommit(b *queue.Batch, gen int64) {
	if _, dup := w.finishing.LoadOrStore(b, true); dup {
		return
	}
	b.AfterCommit(func(ctx context.Context) {
		w.finishing.Delete(b)
		if err := w.maybeFinish(ctx, gen); err != nil {
			w.log.Warn("checking whether the sweep is finished", zap.Int64("generation", gen), zap.Error(err))
		}
	})
}

// countCall records one Directory call of sweep gen (refreshes, gen 0, are counted by the
// budget guard's daily count only: one store write per call is enough).
func (w *Worker) countCall(ctx context.Context, gen int64) {
	if gen <= 0 {
		return
	}
	name := counter(gen, "calls")
	if queue.BatchFrom(ctx).Add(func(wr *greep.Writes) { wr.Counts = append(wr.Counts, greep.Count{Name: name, Delta: 1}) }) {
		return
	}
	if _, err := w.cfg.Store.AddCount(ctx, name, 1); err != nil {
		w.log.Warn("counting a call", zap.Error(err))
	}
}
