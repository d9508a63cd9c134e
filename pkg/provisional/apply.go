package provisional

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/greep"
)

// Store is what applying needs of the cache.
type Store interface {
	greep.StateStore
	Group(ctx context.Context, key string) (greep.Group, error)
	Members(ctx context.Context, groupID string) ([]greep.Member, error)
	ReplaceMembersFrom(ctx context.Context, groupID string, from greep.MembersVersion, members []greep.Member, etag string, syncedAt time.Time) error
	User(ctx context.Context, key string) (greep.User, error)
	Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error)
}

// Applier applies notifications' membership and settings events to the cache,
// provisionally: members into the snapshot (with their marks), settings into the group's
// provisional settings only (SettingMarks), never into the stored settings.
type Applier struct {
	Store Store
	Now   func() time.Time
	Log   *zap.Logger
	// Changed, when set, is called after a group's members or provisional settings
	// changed (the rules' judging, wiring.NewPush) with the group's id or address; ctx
	// carries the cause of the write (greep.CauseOf).
	Changed func(ctx context.Context, groupKey string)
	batches batches
}

// Apply queues the membership and settings events among events to be applied, group by group, and
// returns without waiting (Flush waits). Events it does not apply (unknown group,
// malformed, older than the group's last read, superseded) are logged with their activity
// id, and so is a failure; the debounced read runs for them all the same.
func (a *Applier) Apply(ctx context.Context, events []greep.Event) {
	byGroup := map[string][]greep.Event{}
	var order []string
	for _, e := range events {
		if !activity.MemberEvent(e) && !activity.SettingEvent(e) {
			continue
		}
		g := fold(e.Group)
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], e)
	}
	// The work outlives this request: only its values (the logger's fields) go with it.
	bctx := context.WithoutCancel(ctx)
	now := a.Now()
	for _, g := range order {
		a.batches.add(g, byGroup[g], now, func(key string, events []greep.Event, accepted map[string]time.Time) {
			if err := a.group(bctx, key, events, accepted); err != nil {
				a.Log.Error("provisional apply failed; the debounced read will bring the change", zap.String("group", key), zap.Error(err))
			}
		})
	}
}

// Flush waits until every queued event is applied (or failed).
func (a *Applier) Flush() { a.batches.wait() }

func (a *Applier) group(ctx context.Context, key string, events []greep.Event, accepted map[string]time.Time) error {
	if key == "" {
		a.skipped(events, "no group")
		return nil
	}
	g, err := a.Store.Group(ctx, key)
	if errors.Is(err, greep.ErrNotFound) {
		a.skipped(events, "unknown group")
		return nil
	}
	if err != nil {
		return fmt.Errorf("provisional apply to %s: %w", key, err)
	}
	var members, settings []greep.Event
	for _, e := range events {
		if activity.SettingEvent(e) {
			settings = append(settings, e)
		} else {
			members = append(members, e)
		}
	}
	var errs error
	if len(settings) > 0 {
		errs = a.settings(ctx, g, settings, accepted)
	}
	if len(members) > 0 {
		errs = errors.Join(errs, a.members(ctx, g, members, accepted))
	}
	return errs
}

// members applies membership events to g's snapshot.
func (a *Applier) members(ctx context.Context, g greep.Group, events []greep.Event, accepted map[string]time.Time) error {
	var ours []Mark
	for attempt := 1; ; attempt++ {
		res, err := a.plan(ctx, g, events, accepted, ours, attempt == 1)
		if err != nil {
			return err
		}
		if len(res.Applied) == 0 {
			if ours == nil {
				return nil
			}
			// The read stands for what the refused attempt planned (it is newer than
			// those events): the attempt's marks go.
			return Save(ctx, a.Store, g.ID, res.Marks)
		}
		// A read stored since the plan (by the directory worker, in this process or
		// another) is Google's newer answer: the snapshot goes in only over the version
		// planned on, and on a conflict the events are planned again on the read. Put
		// back over it, the older list would stand, marked provisional, until a read
		// that nothing may have scheduled.
		err = a.write(ctx, g, res)
		if !errors.Is(err, greep.ErrConflict) || attempt == maxAttempts {
			return err
		}
		cur, err := a.Store.Group(ctx, g.ID)
		if err != nil {
			return fmt.Errorf("provisional apply to %s: %w", g.Email, err)
		}
		g = cur
		// The marks this attempt wrote are not yet on a snapshot of the read.
		ours = res.Applied
	}
}

// maxAttempts bounds the plans of one group's events when reads keep landing between the
// plan and its write; the debounced read brings what the last one could not apply.
const maxAttempts = 3

// plan reads g's snapshot and marks and plans events on them, logging the skipped events
// once. The marks of ours (applied by an attempt whose snapshot was refused) are planned
// again rather than taken as already applied.
func (a *Applier) plan(ctx context.Context, g greep.Group, events []greep.Event, accepted map[string]time.Time, ours []Mark, log bool) (Result, error) {
	in := Input{Group: g, Events: events, Now: a.Now(), Accepted: accepted}
	if ours == nil && !slices.ContainsFunc(events, func(e greep.Event) bool { return e.Time.After(g.MembersSyncedAt) }) {
		// A read came first (the applier is behind, or the notification late): nothing
		// will apply, so nothing more is read. This is what lets a busy applier catch up.
		return a.logged(g, Plan(in), log), nil
	}
	members, err := a.Store.Members(ctx, g.ID)
	if err != nil {
		return Result{}, fmt.Errorf("provisional apply to %s: %w", g.Email, err)
	}
	marks, err := Load(ctx, a.Store, g.ID)
	if err != nil {
		return Result{}, fmt.Errorf("provisional apply to %s: %w", g.Email, err)
	}
	known, err := a.known(ctx, members, g.MembersSyncedAt, events)
	if err != nil {
		return Result{}, fmt.Errorf("provisional apply to %s: %w", g.Email, err)
	}
	marks.Members = slices.DeleteFunc(marks.Members, func(m Mark) bool {
		return slices.ContainsFunc(ours, func(o Mark) bool {
			return o.Member == m.Member && o.ActivityID == m.ActivityID && o.EventTime.Equal(m.EventTime)
		})
	})
	in.Members, in.Marks, in.Known = members, marks, known
	return a.logged(g, Plan(in), log), nil
}

// logged logs res's skipped events (when log) and returns res.
func (a *Applier) logged(g greep.Group, res Result, log bool) Result {
	if log {
		for _, s := range res.Skipped {
			a.Log.Info("provisional change not applied", zap.String("group", g.Email), zap.String("member", s.Event.Member),
				zap.String("event", s.Event.Event), zap.String("activityId", s.Event.ID), zap.String("reason", s.Reason),
				zap.Time("eventTime", s.Event.Time), zap.Time("lastRead", g.MembersSyncedAt))
		}
	}
	return res
}

// write stores a plan: the marks, then the snapshot.
func (a *Applier) write(ctx context.Context, g greep.Group, res Result) error {
	// The marks go first: a reader that renders the old snapshot with them in between
	// flags nothing wrong for long, one that renders the new snapshot without them would
	// keep a confirmed-looking member until the next version.
	if err := Save(ctx, a.Store, g.ID, res.Marks); err != nil {
		return fmt.Errorf("provisional apply to %s: marks: %w", g.Email, err)
	}
	if !res.Changed {
		return nil
	}
	causes := make(map[string]greep.MemberCause, len(res.Applied))
	for _, m := range res.Applied {
		causes[m.Member] = greep.MemberCause{Actor: m.Actor, ActivityID: m.ActivityID}
	}
	last := res.Applied[len(res.Applied)-1]
	ctx = greep.WithCause(ctx, greep.ChangeCause{Cause: greep.CausePush, Actor: last.Actor, ActivityID: last.ActivityID,
		Provisional: true, Members: causes, At: a.Now()})
	// The last read's time stays: it is what later events are ordered against.
	err := a.Store.ReplaceMembersFrom(ctx, g.ID, g.MembersVersion(), res.Members, ETag(g.MembersETag, res.Marks), g.MembersSyncedAt)
	if err != nil {
		return fmt.Errorf("provisional apply to %s: %w", g.Email, err)
	}
	if a.Changed != nil {
		a.Changed(ctx, g.ID)
	}
	return nil
}

// known looks up the members the events name that are not in the group yet.
func (a *Applier) known(ctx context.Context, members []greep.Member, lastRead time.Time, events []greep.Event) (map[string]greep.Member, error) {
	out := map[string]greep.Member{}
	for _, e := range events {
		k := fold(e.Member)
		if _, done := out[k]; done || !e.Time.After(lastRead) || !strings.Contains(k, "@") || find(members, k) >= 0 {
			continue
		}
		u, err := a.Store.User(ctx, k)
		if err == nil {
			out[k] = greep.Member{ID: u.ID, Email: u.PrimaryEmail, Type: greep.TypeUser, Status: u.Status()}
			continue
		}
		if !errors.Is(err, greep.ErrNotFound) && !errors.Is(err, greep.ErrInvalid) {
			return nil, err
		}
		g, err := a.Store.Group(ctx, k)
		if err == nil {
			out[k] = greep.Member{ID: g.ID, Email: g.Email, Type: greep.TypeGroup}
			continue
		}
		if !errors.Is(err, greep.ErrNotFound) && !errors.Is(err, greep.ErrInvalid) {
			return nil, err
		}
	}
	return out, nil
}

func (a *Applier) skipped(events []greep.Event, reason string) {
	for _, e := range events {
		a.Log.Info("provisional change not applied", zap.String("group", e.Group), zap.String("member", e.Member),
			zap.String("event", e.Event), zap.String("activityId", e.ID), zap.String("reason", reason))
	}
}

// provisionalTag marks a MembersETag as Google's etag with provisional changes over it.
const provisionalTag = "~provisional:"

// ETag is the MembersETag of the snapshot read under etag with marks over it. It differs
// from every group etag, so the read API takes the snapshot for a new version and a
// resync re-reads the group; BaseETag gives the read's etag back.
func ETag(etag string, marks Marks) string {
	base := BaseETag(etag)
	if len(marks.Members) == 0 {
		return base
	}
	h := fnv.New64a()
	for _, m := range marks.Members {
		h.Write([]byte(m.Member + "\x00" + m.ActivityID + "\x00"))
	}
	return base + provisionalTag + strconv.FormatUint(h.Sum64(), 36)
}

// BaseETag strips what ETag added.
func BaseETag(etag string) string {
	base, _, _ := strings.Cut(etag, provisionalTag)
	return base
}
