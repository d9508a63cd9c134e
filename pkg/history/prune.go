package history

import (
	"context"
	"time"
)

// DefaultRetention is how long the history keeps an event (issue 16: 400 days, longer than
// the Reports API's own 180 days, so the history outlives what Google could list again).
const DefaultRetention = 400 * 24 * time.Hour

// pruneBatch is how many events one prune call removes at most: one bbolt transaction,
// or one Datastore query and delete of at most 500 entities.
const pruneBatch = 500

// Pruner is the part of the store the history is pruned through; greep.Store implements it.
type Pruner interface {
	PruneEvents(ctx context.Context, cutoff time.Time, max int) (int, error)
}

// Prune removes the events older than cutoff, batch by batch, and reports how many went.
// A failure leaves the rest for the next call; what was removed stays removed.
func Prune(ctx context.Context, p Pruner, cutoff time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := p.PruneEvents(ctx, cutoff, pruneBatch)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}
