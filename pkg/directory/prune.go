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

// prune runs when a sweep finishes, which every deployment does at least daily (the
// resync cron, hourly by default): the change feed and the history each lose what is
// older than their retention. A failure only leaves old entries for the next sweep.
func (w *Worker) prune(ctx context.Context) {
	if !w.pruneChanges(ctx) {
		return
	}
	p, ok := w.cfg.Store.(history.Pruner)
	if !ok || w.cfg.HistoryRetention < 0 {
		return
	}
	cutoff := w.cfg.Now().Add(-w.cfg.HistoryRetention)
	n, err := history.Prune(ctx, p, cutoff)
	if err != nil {
		w.log.Warn("pruning the history", zap.Error(err))
	}
	if n > 0 {
		w.log.Info("history pruned", zap.Int("events", n), zap.Time("before", cutoff))
	}
}

// pruneChanges drops the change records older than the retention, batch by batch. The
// history takes its copy of the records first (they outlive the feed there), and nothing
// is pruned, the history included, while it cannot: it reports false then.
func (w *Worker) pruneChanges(ctx context.Context) bool {
	if err := history.NewProjector(w.cfg.Store).CatchUp(ctx); err != nil {
		w.log.Warn("copying the change feed into the history; pruning left for the next sweep", zap.Error(err))
		return false
	}
	p, ok := w.cfg.Store.(changePruner)
	if !ok || w.cfg.ChangeRetention < 0 {
		return true
	}
	cutoff := w.cfg.Now().Add(-w.cfg.ChangeRetention)
	total := 0
	for ctx.Err() == nil {
		n, err := p.PruneChanges(ctx, cutoff, pruneBatch)
		if err != nil {
			w.log.Warn("pruning the change feed", zap.Error(err))
			return true
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total > 0 {
		w.log.Info("change feed pruned", zap.Int("records", total), zap.Time("before", cutoff))
	}
	return true
}
