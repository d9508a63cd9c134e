package reports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
)

// A channel can stay live while nothing it sends is recorded: the push service was down
// or failing (Google retries a 5xx for a while, then drops the message), or Google itself
// dropped messages (its push is documented as not fully reliable). Nothing in the store
// shows such a gap: the push service leaves no trace of what it never received, and
// notifications carry no sequence to count. So the cron reconciles instead of guessing:
// once more than Policy.ReconcileEvery has passed since the history was last known
// complete (Backfill.Through), it backfills from there to a little before now, through
// the backfill's own pages (one call each, named tasks, resumable after a quota refusal).
// Activities push did deliver are skipped by their ids; anything new is what push lost,
// recorded with its actor and its refreshes enqueued. At the default hour that is two
// activities.list calls an hour (one per application) while nothing was lost.

// reconcile starts app's reconciliation when it is due. It reports whether it started.
func (w *Worker) reconcile(ctx context.Context, app string, now time.Time) (bool, error) {
	if w.record == nil || w.policy.ReconcileEvery < 0 {
		return false, nil
	}
	end := now.Add(-w.policy.ReconcileSettle)
	b, err := greep.UpdateStateJSON(ctx, w.store, BackfillState(app), func(b *Backfill) error {
		// A running backfill covers it; with no Through, the first start (or a
		// channel's) sets one.
		if b.Running || b.Through.IsZero() || end.Sub(b.Through) < w.policy.ReconcileEvery {
			return errNotDue
		}
		*b = Backfill{Application: app, Running: true, StartTime: b.Through, EndTime: end, Through: b.Through, Reconcile: true}
		return nil
	})
	if errors.Is(err, errNotDue) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reports: starting the reconciliation of %s: %w", app, err)
	}
	return true, w.enqueuePage(ctx, b)
}

// reconciled logs a finished reconciliation; one that recorded anything found a gap in
// push, which operators should hear of.
func (w *Worker) reconciled(b Backfill) {
	if b.Recorded == 0 {
		w.log.Debug("reports: reconciled, nothing missing", zap.String("application", b.Application),
			zap.Time("from", b.StartTime), zap.Time("to", b.EndTime))
		return
	}
	w.log.Warn("reports: push missed activities; recorded them from activities.list",
		zap.String("application", b.Application), zap.Int("activities", b.Recorded),
		zap.Time("from", b.StartTime), zap.Time("to", b.EndTime), zap.Int("pages", b.Pages))
}
