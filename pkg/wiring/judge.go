package wiring

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
)

// judgeProvisional is the provisional applier's Changed hook: the rules are judged on
// the members a notification changed as soon as they are applied (tasks.Judge,
// provisional, so nothing is patched from it). A failed enqueue costs only time: the
// debounced read that confirms the change is judged again.
func judgeProvisional(q queue.Enqueuer, log *zap.Logger) func(ctx context.Context, groupID string) {
	return func(ctx context.Context, groupID string) {
		c := greep.CauseOf(ctx) // the applier's: the last activity applied, at its clock
		t, err := tasks.JudgeTask(tasks.Judge{Group: groupID, Version: c.ActivityID + "@" + c.At.Format(time.RFC3339Nano), Provisional: true})
		if err == nil {
			err = q.Enqueue(ctx, t)
		}
		if err != nil {
			log.Warn("judging a provisional member change not queued; the confirming read will", zap.String("group", groupID),
				zap.String("activityId", c.ActivityID), zap.Error(err))
		}
	}
}
