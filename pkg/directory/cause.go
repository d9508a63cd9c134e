package directory

import (
	"context"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// The change feed says why the cache changed; these label a task's store writes with
// the cause the task knows, on the worker's clock.

// pushCause labels the writes of a push-driven refresh.
func (w *Worker) pushCause(ctx context.Context, r tasks.Refresh) context.Context {
	return greep.WithCause(ctx, greep.ChangeCause{Cause: greep.CausePush, Actor: r.Actor, ActivityID: r.ActivityID, At: w.cfg.Now()})
}

// sweepCause labels the writes of a sweep in mode (syncplan.ModeFull or ModeResync).
func (w *Worker) sweepCause(ctx context.Context, mode string) context.Context {
	c := greep.CauseResync
	if mode == syncplan.ModeFull {
		c = greep.CauseFullSync
	}
	return greep.WithCause(ctx, greep.ChangeCause{Cause: c, At: w.cfg.Now()})
}
