package provisional

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
)

// settings applies settings events to g's provisional settings, ordered against the
// stored settings' read, and has the group judged when any applied.
func (a *Applier) settings(ctx context.Context, g greep.Group, events []greep.Event, accepted map[string]time.Time) error {
	gs, err := a.Store.Settings(ctx, g.Email)
	if err != nil && !errors.Is(err, greep.ErrNotFound) {
		return fmt.Errorf("provisional settings of %s: %w", g.Email, err)
	}
	// Never read (ErrNotFound): every well-formed event applies.
	var res SettingsResult
	err = UpdateSettings(ctx, a.Store, g.Email, func(cur SettingMarks) SettingMarks {
		res = PlanSettings(SettingsInput{ReadAt: gs.ReadAt, Marks: cur, Events: events, Now: a.Now(), Accepted: accepted})
		return res.Marks
	})
	if err != nil {
		return fmt.Errorf("provisional settings of %s: %w", g.Email, err)
	}
	if len(res.Applied) > 0 {
		if res.Applied, err = a.overtaken(ctx, g.Email, gs.ReadAt, res.Applied); err != nil {
			return err
		}
	}
	for _, s := range res.Skipped {
		a.Log.Info("provisional setting not applied", zap.String("group", g.Email), zap.String("setting", s.Event.Setting),
			zap.String("value", s.Event.NewValue), zap.String("event", s.Event.Event), zap.String("activityId", s.Event.ID),
			zap.String("reason", s.Reason), zap.Time("eventTime", s.Event.Time), zap.Time("lastRead", gs.ReadAt))
	}
	if len(res.Applied) == 0 || a.Changed == nil {
		return nil
	}
	last := res.Applied[len(res.Applied)-1]
	a.Changed(greep.WithCause(ctx, greep.ChangeCause{Cause: greep.CausePush, Actor: last.Actor, ActivityID: last.ActivityID,
		Provisional: true, At: a.Now()}), g.Email)
	return nil
}

// overtaken takes back the applied marks a settings read stored since lastRead is newer
// than (it settled the marks before these were written, so it never judged them), as the
// member applier plans again on a read stored meanwhile; it returns the marks that stay.
func (a *Applier) overtaken(ctx context.Context, email string, lastRead time.Time, applied []SettingMark) ([]SettingMark, error) {
	cur, err := a.Store.Settings(ctx, email)
	if err != nil && !errors.Is(err, greep.ErrNotFound) {
		return nil, fmt.Errorf("provisional settings of %s: %w", email, err)
	}
	if !cur.ReadAt.After(lastRead) {
		return applied, nil
	}
	stale := func(m SettingMark) bool { return !m.EventTime.After(cur.ReadAt) }
	err = UpdateSettings(ctx, a.Store, email, func(ms SettingMarks) SettingMarks {
		ms.Fields = slices.DeleteFunc(ms.Fields, func(m SettingMark) bool {
			return stale(m) && slices.ContainsFunc(applied, func(x SettingMark) bool { return x.ActivityID == m.ActivityID })
		})
		return ms
	})
	if err != nil {
		return nil, fmt.Errorf("provisional settings of %s: %w", email, err)
	}
	return slices.DeleteFunc(applied, stale), nil
}
