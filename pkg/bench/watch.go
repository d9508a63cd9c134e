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
	// busy marks a change made while the process was busy with a settings sweep.
	busy bool
	// provisional: the cache has shown it, applied from its notification, before
	// Google's read confirmed it.
	provisional bool
}

// watcher measures freshness: it records the simulated time of each change and polls
// the cache until the change shows, noting the simulated time it took.
type watcher struct {
	store greep.Store
	now   func() time.Time

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
	// changes (also in accepted); unmarked counts changes confirmed without ever being
	// seen provisional.
	accepted, busyAccepted []time.Duration
	unmarked               int
	err                    error
}

func newWatcher(store greep.Store, now func() time.Time) *watcher {
	return &watcher{store: store, now: now}
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
		c.at = at
		w.mu.Lock()
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
	now := w.now()
	members := map[string]map[string]bool{}
	marks := map[string]map[string]provisional.Mark{}
	seen := map[int]bool{}
	shown := map[int]time.Duration{} // seen provisional: accepted to visible
	for i, c := range pending {
		ok, err := w.visible(ctx, c, members)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		m, err := w.mark(ctx, c, marks)
		switch {
		case err != nil:
			return err
		case m == nil:
			seen[i] = true
		case !c.provisional:
			shown[i] = max(0, now.Sub(m.AcceptedAt))
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
			w.accepted = append(w.accepted, lag)
			if c.busy {
				w.busyAccepted = append(w.busyAccepted, lag)
			}
			rest = append(rest, c)
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
			rest = append(rest, c)
		}
	}
	w.pending = rest
	return nil
}

func (w *watcher) visible(ctx context.Context, c change, members map[string]map[string]bool) (bool, error) {
	if c.field != "" {
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

// mark returns the provisional mark a visible membership change shows under (nil once
// Google's read confirmed it, and for settings changes).
func (w *watcher) mark(ctx context.Context, c change, marks map[string]map[string]provisional.Mark) (*provisional.Mark, error) {
	if c.field != "" {
		return nil, nil
	}
	byMember, ok := marks[c.groupID]
	if !ok {
		ms, err := provisional.Load(ctx, w.store, c.groupID)
		if err != nil {
			return nil, err
		}
		byMember = make(map[string]provisional.Mark, len(ms.Members))
		for _, m := range ms.Members {
			byMember[strings.ToLower(m.Member)] = m
		}
		marks[c.groupID] = byMember
	}
	if m, ok := byMember[strings.ToLower(c.member)]; ok && m.Present != c.removed {
		return &m, nil
	}
	return nil, nil
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
	return len(w.pending)
}

// busyResult is the membership freshness of the changes made while busy and of the
// others; the unseen ones count in the others.
func (w *watcher) busyResult() (busy, rest *Freshness) {
	w.mu.Lock()
	defer w.mu.Unlock()
	unseen := 0
	for _, c := range w.pending {
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
	for _, c := range w.pending {
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
// in the cache (provisionally), of every membership change and of the busy ones. A
// change never seen provisional (confirmed by the read first, or never seen) counts as
// unseen.
func (w *watcher) acceptedResult() (all, busy *Freshness) {
	w.mu.Lock()
	defer w.mu.Unlock()
	unseen := w.unmarked
	for _, c := range w.pending {
		if c.field == "" && !c.provisional {
			unseen++
		}
	}
	return freshnessOf(w.accepted, unseen), freshnessOf(w.busyAccepted, 0)
}
