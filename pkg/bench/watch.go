package bench

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/workspacesim"
)

// change is one mutation made to the simulator, and what the cache shows once it is
// visible there.
type change struct {
	groupID, groupEmail string
	member              string // the member added or removed
	removed             bool
	field, value        string // a settings change
	at                  time.Time
	wallAt              time.Time // at, on the wall clock
	// busy marks a change made while the process was busy with a settings sweep.
	busy bool
	// provisional: the cache has shown it, applied from its notification, before
	// Google's read confirmed it.
	provisional bool
	// overtaken: a later change to the same member or setting was made before this one
	// was seen; it can no longer show, so it is counted apart, not as unseen.
	overtaken bool
}

// sameTarget reports whether c and d change the same member or the same setting of
// one group.
func (c change) sameTarget(d change) bool {
	if c.groupID != d.groupID || c.field != d.field {
		return false
	}
	return c.field != "" || strings.EqualFold(c.member, d.member)
}

// watcher measures freshness: it records the simulated time of each change and polls
// the cache until the change shows, noting the simulated time it took; and, for the
// changes shown provisionally, the wall time it took too.
type watcher struct {
	store greep.Store
	now   func() time.Time
	// scale is the simulated clock's speed over the wall clock's. The provisional path
	// (the webhook, the applier) waits on no clock, so its simulated times over scale are
	// its wall times: the simulated clock runs linearly (nothing advances it in the
	// scenarios that watch) from the wall clock.
	scale float64

	// pollMu keeps polls one at a time: a poll removes what it saw by position.
	pollMu  sync.Mutex
	mu      sync.Mutex
	pending []change
	lags    []time.Duration
	// settingsLags are kept apart: a settings change is seen through a settings read,
	// not a membership refresh.
	settingsLags []time.Duration
	// busyLags are the membership lags of the changes marked busy (also in lags).
	busyLags []time.Duration
	// accepted are the times from a change's notification being accepted (its mark's
	// AcceptedAt) to the change showing provisionally, busyAccepted those of the busy
	// membership changes (also in accepted.members); unmarked counts membership changes
	// confirmed without ever being seen provisional.
	accepted     struct{ members, settings shownLags }
	busyAccepted []time.Duration
	unmarked     int
	// overtaken counts the changes dropped unseen because a later change to the same
	// member or setting was made first (a removal 30 simulated minutes after an add is
	// 1.25 s of wall time at 1440x: a stalled machine can miss the add's confirmation).
	overtaken int
	err       error
}

// shownLags are the lags of changes seen provisional: from the notification being
// accepted, in simulated time (sim) and wall time (wall), and from the change being made
// to showing, measured on the wall clock (changeWall: includes Google's, the
// simulator's, delivery of the notification).
type shownLags struct{ sim, wall, changeWall []time.Duration }

func newWatcher(store greep.Store, now func() time.Time, scale float64) *watcher {
	return &watcher{store: store, now: now, scale: max(scale, 1)}
}

// apply makes the mutations in the simulator and starts watching the ones that applied.
// A mutation the tenant refuses (its group is gone, the member already left) is not a
// change and is counted as refused.
func (w *watcher) apply(sim *workspacesim.Sim, muts []workspacesim.Mutation, changes []change) (refused int) {
	for i := range muts {
		at := sim.Now()
		if err := sim.Apply(muts[i : i+1]); err != nil {
			refused++
			continue
		}
		c := changes[i]
		c.at, c.wallAt = at, time.Now()
		w.mu.Lock()
		// Marked in place, not removed: a poll running now removes by position.
		for j := range w.pending {
			if w.pending[j].sameTarget(c) {
				w.pending[j].overtaken = true
			}
		}
		w.pending = append(w.pending, c)
		w.mu.Unlock()
	}
	return refused
}

// poll checks every pending change once, and records those now visible.
func (w *watcher) poll(ctx context.Context) error {
	w.pollMu.Lock()
	defer w.pollMu.Unlock()
	w.mu.Lock()
	pending := append([]change(nil), w.pending...)
	w.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	now, wallNow := w.now(), time.Now()
	members := map[string]map[string]bool{}
	marks := map[string]map[string]provisional.Mark{}
	settings := map[string]provisional.SettingMarks{}
	seen := map[int]bool{}
	shown := map[int]time.Duration{} // seen provisional: accepted to visible
	for i, c := range pending {
		ok, err := w.visible(ctx, c, members)
		if err != nil {
			return err
		}
		// A settings change shows once its read or its mark does; a membership change
		// is visible in the snapshot, provisional or not.
		var accepted time.Time
		marked := false
		if ok || c.field != "" {
			if accepted, marked, err = w.mark(ctx, c, marks, settings); err != nil {
				return err
			}
		}
		switch {
		case marked && !c.provisional:
			shown[i] = max(0, now.Sub(accepted))
		case ok && !marked:
			seen[i] = true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Changes applied while this poll ran stay pending: only the first len(pending)
	// entries were checked.
	rest := w.pending[:0:0]
	for i, c := range w.pending {
		lag, wasShown := shown[i]
		switch {
		case i < len(pending) && wasShown:
			c.provisional = true
			l := &w.accepted.members
			if c.field != "" {
				l = &w.accepted.settings
			}
			l.sim = append(l.sim, lag)
			l.wall = append(l.wall, time.Duration(float64(lag)/w.scale))
			l.changeWall = append(l.changeWall, wallNow.Sub(c.wallAt))
			if c.busy && c.field == "" {
				w.busyAccepted = append(w.busyAccepted, lag)
			}
			rest = w.keep(rest, c)
		case i < len(pending) && seen[i]:
			if c.field == "" && !c.provisional {
				w.unmarked++
			}
			if c.field != "" {
				w.settingsLags = append(w.settingsLags, now.Sub(c.at))
			} else {
				w.lags = append(w.lags, now.Sub(c.at))
				if c.busy {
					w.busyLags = append(w.busyLags, now.Sub(c.at))
				}
			}
		default:
			rest = w.keep(rest, c)
		}
	}
	w.pending = rest
	return nil
}

// keep appends c to the changes still pending, unless it was overtaken; w.mu is held.
func (w *watcher) keep(rest []change, c change) []change {
	if c.overtaken {
		w.overtaken++
		return rest
	}
	return append(rest, c)
}

// stillPending is w.pending without the overtaken changes no poll has dropped yet;
// w.mu is held.
func (w *watcher) stillPending() []change {
	return slices.DeleteFunc(slices.Clone(w.pending), func(c change) bool { return c.overtaken })
}

// overtakenCount is how many changes were overtaken before they were seen.
func (w *watcher) overtakenCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.overtaken + len(w.pending) - len(w.stillPending())
}

func (w *watcher) visible(ctx context.Context, c change, members map[string]map[string]bool) (bool, error) {
	if c.field != "" {
		// Google's read, confirmed; a provisional value shows through mark.
		s, err := w.store.Settings(ctx, c.groupEmail)
		if errors.Is(err, greep.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return s.Settings[c.field] == c.value && !s.ReadAt.Before(c.at), nil
	}
	// A set per group and poll: a poll checks every pending change, up to a burst's
	// thousand, against groups of hundreds of members, and runs every 10 ms.
	set, ok := members[c.groupID]
	if !ok {
		ms, err := w.store.Members(ctx, c.groupID)
		if err != nil && !errors.Is(err, greep.ErrNotFound) {
			return false, err
		}
		set = make(map[string]bool, len(ms))
		for _, m := range ms {
			set[strings.ToLower(m.Email)] = true
		}
		members[c.groupID] = set
	}
	return set[strings.ToLower(c.member)] != c.removed, nil
}

// mark reports whether the change shows provisionally, under a mark the webhook applied
// for it, and when that mark was accepted. Marks go once Google's read confirmed them.
// The marks read are kept per poll in marks and settings.
func (w *watcher) mark(ctx context.Context, c change, marks map[string]map[string]provisional.Mark,
	settings map[string]provisional.SettingMarks) (accepted time.Time, ok bool, err error) {
	if c.field != "" {
		ms, read := settings[c.groupEmail]
		if !read {
			if ms, err = provisional.LoadSettings(ctx, w.store, c.groupEmail); err != nil {
				return time.Time{}, false, err
			}
			settings[c.groupEmail] = ms
		}
		for _, m := range ms.Fields {
			// Accepted after the change was made: not an earlier change's value.
			if m.Field == c.field && m.Value == c.value && !m.AcceptedAt.Before(c.at) {
				return m.AcceptedAt, true, nil
			}
		}
		return time.Time{}, false, nil
	}
	byMember, read := marks[c.groupID]
	if !read {
		ms, err := provisional.Load(ctx, w.store, c.groupID)
		if err != nil {
			return time.Time{}, false, err
		}
		byMember = make(map[string]provisional.Mark, len(ms.Members))
		for _, m := range ms.Members {
			byMember[strings.ToLower(m.Member)] = m
		}
		marks[c.groupID] = byMember
	}
	if m, found := byMember[strings.ToLower(c.member)]; found && m.Present != c.removed {
		return m.AcceptedAt, true, nil
	}
	return time.Time{}, false, nil
}

// run polls every 10 ms of wall time until ctx ends.
func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := w.poll(ctx); err != nil && ctx.Err() == nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
	}
}

// drain polls until nothing is pending or limit (wall time) passes.
func (w *watcher) drain(ctx context.Context, limit time.Duration) {
	_ = waitUntil(ctx, limit, "visible changes", func() (bool, error) {
		if err := w.poll(ctx); err != nil {
			return false, err
		}
		return w.pendingCount() == 0, nil
	})
}

func (w *watcher) pendingCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.stillPending())
}

// busyResult is the membership freshness of the changes made while busy and of the
// others; the unseen ones count in the others.
func (w *watcher) busyResult() (busy, rest *Freshness) {
	w.mu.Lock()
	defer w.mu.Unlock()
	unseen := 0
	for _, c := range w.stillPending() {
		if c.field == "" {
			unseen++
		}
	}
	var others []time.Duration
	b := slices.Clone(w.busyLags)
	slices.Sort(b)
	for _, l := range w.lags {
		if i, ok := slices.BinarySearch(b, l); ok {
			b = slices.Delete(b, i, i+1)
			continue
		}
		others = append(others, l)
	}
	return freshnessOf(w.busyLags, 0), freshnessOf(others, unseen)
}

// result is the membership freshness, the settings freshness (nil when no settings
// changed) and the first error polling met.
func (w *watcher) result() (members, settings *Freshness, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	unseenMembers, unseenSettings := 0, 0
	for _, c := range w.stillPending() {
		if c.field != "" {
			unseenSettings++
		} else {
			unseenMembers++
		}
	}
	members = freshnessOf(w.lags, unseenMembers)
	if len(w.settingsLags)+unseenSettings > 0 {
		settings = freshnessOf(w.settingsLags, unseenSettings)
	}
	return members, settings, w.err
}

// acceptedResult is the time from a notification being accepted to its change showing
// in the cache (provisionally), of every membership change and of the busy ones, in
// simulated seconds, and of every membership change in wall seconds. A change never seen
// provisional (confirmed by the read first, or never seen) counts as unseen.
func (w *watcher) acceptedResult() (all, busy, wall *Freshness) {
	w.mu.Lock()
	defer w.mu.Unlock()
	unseen := w.unmarked
	for _, c := range w.stillPending() {
		if c.field == "" && !c.provisional {
			unseen++
		}
	}
	return freshnessOf(w.accepted.members.sim, unseen), freshnessOf(w.busyAccepted, 0), freshnessOf(w.accepted.members.wall, unseen)
}

// provisionalFigures are the figures of changes seen provisional beside acceptedResult's:
// from the change being made to showing, on the wall clock, for membership changes; and
// for settings changes (when there were any) accepted to visible in simulated and wall
// seconds and change to visible on the wall clock. A settings change confirmed by its
// read before it was seen provisional is not counted.
func (w *watcher) provisionalFigures() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]any{"changeToVisibleWall": freshnessOf(w.accepted.members.changeWall, 0)}
	if s := w.accepted.settings; len(s.sim)+len(w.settingsLags) > 0 || slices.ContainsFunc(w.stillPending(), func(c change) bool { return c.field != "" }) {
		out["settingsAcceptedToVisible"] = freshnessOf(s.sim, 0)
		out["settingsAcceptedToVisibleWall"] = freshnessOf(s.wall, 0)
		out["settingsChangeToVisibleWall"] = freshnessOf(s.changeWall, 0)
	}
	return out
}
