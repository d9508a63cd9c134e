package provisional

import (
	"slices"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// Why an event is not applied.
const (
	SkipMalformed  = "malformed"      // no member, no time, an invalid address or role
	SkipUnknown    = "unknown member" // a role given to a member Greep cannot identify
	SkipOlder      = "older than the last read"
	SkipSuperseded = "superseded" // a later event on the member (or this one) is applied
)

// roles Google accepts for a member.
var roles = []string{"OWNER", "MANAGER", "MEMBER"}

// Input is what Plan decides on: one group's state in the cache and the membership
// events of one notification on it.
type Input struct {
	// Group is the group as cached: MembersSyncedAt is its last confirmed read.
	Group   greep.Group
	Members []greep.Member
	Marks   Marks
	Events  []greep.Event
	// Known gives, by folded address, the tenant users and groups an event may name that
	// are not in the group yet (ID, Email, Type, Status); any other address added is an
	// outside user.
	Known map[string]greep.Member
	// Now is when the notification is accepted; Accepted, when it names an event's id,
	// is when that event's notification was (the events of several, applied together).
	Now      time.Time
	Accepted map[string]time.Time
}

// Skip is an event not applied, and why.
type Skip struct {
	Event  greep.Event
	Reason string
}

// Result is the group's next state.
type Result struct {
	Members []greep.Member // ordered as Input.Members, additions last
	Marks   Marks
	Applied []Mark
	Skipped []Skip
	// Changed says Members differ from the input's (a removal of an absent member only
	// records its mark).
	Changed bool
}

// Plan applies the membership events of in to its group, in event order. An event older
// than the group's last read never overrides it, and on each member the latest event
// wins, whatever order they arrive in. Events that are not membership events are ignored.
func Plan(in Input) Result {
	res := Result{Members: slices.Clone(in.Members), Marks: Marks{Members: slices.Clone(in.Marks.Members)}}
	for _, e := range byEventTime(in.Events) {
		if !activity.MemberEvent(e) {
			continue
		}
		x, ok := activity.Expectation(e)
		member := fold(x.Member)
		switch {
		case !ok || e.Time.IsZero() || e.ID == "" || !strings.Contains(member, "@") || cache.CheckKey("member email", member) != nil:
			res.Skipped = append(res.Skipped, Skip{e, SkipMalformed})
			continue
		case x.Role != "" && !slices.Contains(roles, x.Role):
			res.Skipped = append(res.Skipped, Skip{e, SkipMalformed})
			continue
		case !e.Time.After(in.Group.MembersSyncedAt):
			res.Skipped = append(res.Skipped, Skip{e, SkipOlder})
			continue
		}
		k := slices.IndexFunc(res.Marks.Members, func(m Mark) bool { return m.Member == member })
		if k >= 0 && !res.Marks.Members[k].after(e.Time, e.ID) {
			res.Skipped = append(res.Skipped, Skip{e, SkipSuperseded})
			continue
		}
		i := find(res.Members, member)
		known, isKnown := in.Known[member]
		if x.Role != "" && i < 0 && !isKnown {
			res.Skipped = append(res.Skipped, Skip{e, SkipUnknown})
			continue
		}
		accepted, ok := in.Accepted[e.ID]
		if !ok {
			accepted = in.Now
		}
		mark := Mark{Member: member, Present: x.Present, Role: x.Role, EventTime: e.Time, ActivityID: e.ID, Actor: e.Actor, AcceptedAt: accepted}
		switch {
		case !x.Present && i >= 0:
			res.Members = slices.Delete(res.Members, i, i+1)
			res.Changed = true
		case x.Present && i >= 0:
			if x.Role != "" && res.Members[i].Role != x.Role {
				res.Members[i].Role = x.Role
				res.Changed = true
			}
			v := res.Members[i]
			mark.Value = &v
		case x.Present:
			v := greep.Member{Email: member, Type: greep.TypeUser}
			if isKnown {
				v = known
			}
			v.Role = x.Role
			if v.Role == "" {
				v.Role = "MEMBER"
			}
			res.Members = append(res.Members, v)
			res.Changed = true
			mark.Value = &v
		}
		if k >= 0 {
			res.Marks.Members[k] = mark
		} else {
			res.Marks.Members = append(res.Marks.Members, mark)
		}
		res.Applied = append(res.Applied, mark)
	}
	return res
}

// byEventTime returns a copy of events in the order they happened, the activity id
// breaking ties, so every delivery order plans alike.
func byEventTime(events []greep.Event) []greep.Event {
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b greep.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
