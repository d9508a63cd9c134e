package settingsworker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/tasks"
)

// settle judges the group's provisional settings (pkg/provisional) by the read just
// stored, started at readAt: those it shows are confirmed, those it should have shown
// and does not are kept and the group is read again (syncplan's re-poll pacing), and at
// the last re-poll they are dropped, logged with their activity id. The stored settings
// are the read either way: a provisional value never reaches them.
func (w *Worker) settle(ctx context.Context, b tasks.SettingsGet, email string, read greep.Settings, readAt time.Time) error {
	delay, more := w.cfg.Repoll.Next(b.Attempt)
	var s provisional.SettledSettings
	err := provisional.UpdateSettings(ctx, w.cfg.Store, email, func(cur provisional.SettingMarks) provisional.SettingMarks {
		s = provisional.SettleSettings(read, cur, readAt, !more)
		return provisional.SettingMarks{Fields: s.Kept}
	})
	if err != nil {
		return fmt.Errorf("settings get %s: provisional settings: %w", email, err)
	}
	for _, m := range s.Confirmed {
		w.log.Debug("provisional setting confirmed", zap.String("group", email), zap.String("setting", m.Field),
			zap.String("value", m.Value), zap.String("activityId", m.ActivityID))
	}
	for _, m := range s.Dropped {
		w.log.Warn("provisional setting dropped: Google's read still contradicts it after the last re-poll",
			zap.String("group", email), zap.String("setting", m.Field), zap.String("value", m.Value),
			zap.String("read", read[m.Field]), zap.String("activityId", m.ActivityID))
	}
	if len(s.Lagging) == 0 || !more {
		return nil
	}
	next := tasks.SettingsGet{Group: email, Reason: b.Reason, Attempt: b.Attempt + 1}
	// Named after the first lagging change and the attempt: reads of the group that find
	// the same lag (a sweep's, a rule's) ask for the same re-poll.
	t, err := tasks.New(tasks.QueueSettings, tasks.PathSettingsGet,
		tasks.Name(email, "settings-repoll", s.Lagging[0].ActivityID, strconv.Itoa(next.Attempt)), next, w.cfg.Now().Add(delay))
	if err != nil {
		return err
	}
	if err := w.cfg.Queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("settings get %s: queueing the re-poll: %w", email, err)
	}
	return nil
}
