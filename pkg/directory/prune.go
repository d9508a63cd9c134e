package directory

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/history"
)

// DefaultChangeRetention is how long change records stay in the feed.
const DefaultChangeRetention = 30 * 24 * time.Hour

// pruneBatch is how many change records one prune transaction removes at most.
const pruneBatch = 500

// changePruner is the part of the store the end of a sweep prunes the feed through.
type changePruner interface {
	PruneChanges(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// pruneChanges drops the change records older than the retention, batch by batch. It
// runs when a sweep finishes, which every deployment does at least daily; a failure only
// leaves old records for the next sweep. The history takes its copy of the records first
// (they outlive the feed there), and nothing is pruned while it cannot.
func (w *Worker) pruneChanges(ctx context.Context) {
	p, ok := w.cfg.Store.(changePruner)
	if !ok || w.cfg.ChangeRetention < 0 {
		return
	}
	if err := history.NewProjector(w.cfg.Store).CatchUp(ctx); err != nil {
		w.log.Warn("copying the change feed into the history; pruning left for the next sweep", zap.Error(err))
		return
	}
	cutoff := w.cfg.Now().Add(-w.cfg.ChangeRetention)
	total := 0
	for ctx.Err() == nil {
		n, err := p.PruneChanges(ctx, cutoff, pruneBatch)
		if err != nil {
			w.log.Warn("pruning the change feed", zap.Error(err))
			return
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total > 0 {
		w.log.Info("change feed pruned", zap.Int("records", total), zap.Time("before", cutoff))
	}
}
