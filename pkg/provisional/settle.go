package provisional

import (
	"slices"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// Settled is what one read of a group makes of its marks.
type Settled struct {
	// Members is the read with the kept marks applied over it: the snapshot to store.
	Members []greep.Member
	// Kept marks stay provisional. Lagging are those of them the read should have shown
	// (accepted before it started): Google's read still lags, so the group is re-polled.
	Kept, Lagging []Mark
	// Confirmed marks are what the read shows; Dropped marks it contradicted at the last
	// re-poll (or MaxAge after they were accepted).
	Confirmed, Dropped []Mark
}

// Settle decides, for a read of a group's members that started at readAt, which marks it
// confirms, which stay provisional and which are dropped. final says the read is the last
// re-poll of a refresh: a mark it still contradicts is dropped.
func Settle(read []greep.Member, marks Marks, readAt time.Time, final bool) Settled {
	s := Settled{Members: slices.Clone(read)}
	for _, m := range marks.Members {
		shown := len(syncplan.Unmet([]tasks.Expectation{m.Expectation()}, read)) == 0
		switch f := judge(shown, m.AcceptedAt, readAt, final); f {
		case confirmed:
			s.Confirmed = append(s.Confirmed, m)
		case dropped:
			s.Dropped = append(s.Dropped, m)
		default:
			s.Kept = append(s.Kept, m)
			if f == lagging {
				s.Lagging = append(s.Lagging, m)
			}
			s.Members = overlay(s.Members, m)
		}
	}
	return s
}

// fate is what a read makes of one provisional change.
type fate int

const (
	confirmed fate = iota // the read shows it
	dropped               // the read still contradicts it at the last re-poll, or MaxAge after
	lagging               // kept: the read should have shown it (Google lags), re-poll
	kept                  // kept: accepted after the read began, not this read's to judge
)

// judge decides the fate of a change accepted at accepted that a read started at readAt
// shows or not; final says the read is the last re-poll. Members and settings both
// settle through it.
func judge(shown bool, accepted, readAt time.Time, final bool) fate {
	before := !accepted.After(readAt)
	switch {
	case shown:
		return confirmed
	case before && (final || readAt.Sub(accepted) > MaxAge):
		return dropped
	case before:
		return lagging
	}
	return kept
}

// overlay applies a kept mark over the read.
func overlay(members []greep.Member, m Mark) []greep.Member {
	i := find(members, m.Member)
	switch {
	case !m.Present && i >= 0:
		return slices.Delete(members, i, i+1)
	case m.Present && i >= 0 && m.Role != "":
		members[i].Role = m.Role
	case m.Present && i < 0 && m.Value != nil:
		return append(members, *m.Value)
	}
	return members
}
