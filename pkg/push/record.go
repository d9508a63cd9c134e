package push

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/greep"
)

// Record records parsed activity events in the history and schedules the work they imply,
// as a notification does. The reports worker's backfill records what it lists through here
// too, so an activity reached both ways has one id, one history entry and one refresh.
// It returns how many events were new.
func (h *Handler) Record(ctx context.Context, events []greep.Event) (int, error) {
	added, err := h.store.AddEvents(ctx, events)
	if err != nil {
		return 0, fmt.Errorf("recording %d events: %w", len(events), err)
	}
	// Work is opened only by new events: a redelivery (or the same activity through the
	// other channel while old and new overlap) finds every event recorded and buys nothing.
	open := added > 0
	work := activity.Plan(events)
	for _, rf := range work.Refresh {
		j := job{kind: kindRefresh, group: rf.Group, reason: rf.Reason, expect: rf.Expect, changedAt: earliest(events, rf.Group), actor: rf.Actor, activityID: rf.ActivityID}
		if err := h.debounce.schedule(ctx, j, open); err != nil {
			return added, err
		}
	}
	for _, s := range work.Settings {
		if err := h.debounce.schedule(ctx, job{kind: kindSettings, group: s.Group, reason: s.Reason}, open); err != nil {
			return added, err
		}
	}
	for _, u := range work.Users {
		if err := h.debounce.schedule(ctx, job{kind: kindUser, group: u.User, reason: u.Reason}, open); err != nil {
			return added, err
		}
	}
	// Applied after the read is scheduled, and only from new events: a notification
	// replayed later applies nothing. A failure costs freshness, not correctness (the read
	// is on its way), so the applier logs it rather than answer a 5xx, whose redelivery
	// would apply nothing anyway.
	switch {
	case h.applier == nil || len(events) == 0:
	case !open:
		h.log.Info("events recorded before: nothing applied provisionally", zap.Int("events", len(events)), zap.String("activityId", events[0].ID))
	default:
		h.applier.Apply(ctx, events)
	}
	return added, nil
}
