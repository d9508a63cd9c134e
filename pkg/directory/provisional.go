package directory

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
)

// storeRead puts a read of g's members (started at readAt, under g.ETag) in the cache.
// The provisional changes the webhook applied (pkg/provisional) that the read shows are
// confirmed; those it does not show yet stay over it, and are returned as lagging when
// the read should have shown them; at the last re-poll (final) they are dropped, logged
// with their activity id. Every read goes through here, a sweep's too: any read may
// confirm a mark, only a refresh's last re-poll drops one.
func (w *Worker) storeRead(ctx context.Context, g greep.Group, read []greep.Member, readAt time.Time, final bool) (lagging []provisional.Mark, err error) {
	marks, err := w.marks(ctx, g)
	if err != nil {
		return nil, err
	}
	return w.storeReadOver(ctx, g, marks, read, readAt, final)
}

// marks loads the provisional changes that stand over g's members.
func (w *Worker) marks(ctx context.Context, g greep.Group) (provisional.Marks, error) {
	marks, err := provisional.Load(ctx, w.cfg.Store, g.ID)
	if err != nil {
		return marks, fmt.Errorf("provisional changes of %s: %w", g.Email, err)
	}
	return marks, nil
}

// storeReadOver is storeRead with the marks already loaded.
func (w *Worker) storeReadOver(ctx context.Context, g greep.Group, marks provisional.Marks, read []greep.Member, readAt time.Time, final bool) (lagging []provisional.Mark, err error) {
	if len(marks.Members) == 0 {
		// The common case: into the run's unit of work, if ctx has one (writes.go).
		if err := w.replaceMembers(ctx, g.ID, read, g.ETag, readAt); err != nil {
			return nil, fmt.Errorf("storing members of %s: %w", g.Email, err)
		}
		return nil, nil
	}
	s := provisional.Settle(read, marks, readAt, final)
	c := greep.CauseOf(ctx)
	c.Members = make(map[string]greep.MemberCause, len(s.Confirmed)+len(s.Dropped))
	for _, m := range s.Confirmed {
		c.Members[m.Member] = greep.MemberCause{Actor: m.Actor, ActivityID: m.ActivityID, Confirmed: true}
	}
	for _, m := range s.Dropped {
		c.Members[m.Member] = greep.MemberCause{Actor: m.Actor, ActivityID: m.ActivityID, Reverted: true}
		w.log.Warn("provisional change dropped: Google's read still contradicts it after the last re-poll",
			zap.String("group", g.Email), zap.String("member", m.Member), zap.Bool("present", m.Present),
			zap.String("role", m.Role), zap.String("activityId", m.ActivityID))
	}
	kept := provisional.Marks{Members: s.Kept}
	// The marks first, as the webhook writes them (see provisional.Applier).
	if err := provisional.Save(ctx, w.cfg.Store, g.ID, kept); err != nil {
		return nil, fmt.Errorf("provisional changes of %s: %w", g.Email, err)
	}
	if err := w.cfg.Store.ReplaceMembers(greep.WithCause(ctx, c), g.ID, s.Members, provisional.ETag(g.ETag, kept), readAt); err != nil {
		return nil, fmt.Errorf("storing members of %s: %w", g.Email, err)
	}
	return s.Lagging, nil
}
