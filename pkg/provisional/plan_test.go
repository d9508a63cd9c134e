package provisional

import (
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

var (
	t0    = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	group = greep.Group{ID: "g1", Email: "eng@example.com", MembersSyncedAt: t0}
	alice = greep.Member{ID: "u-alice", Email: "alice@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: greep.UserActive}
	bob   = greep.Member{ID: "u-bob", Email: "bob@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: greep.UserActive}
)

func ev(id, name, member string, at time.Time) greep.Event {
	return greep.Event{ID: id, Time: at, Event: name, Group: group.Email, Member: member, Actor: "admin@example.com"}
}

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func emails(ms []greep.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Email)
	}
	slices.Sort(out)
	return out
}

func reasons(ss []Skip) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Event.ID+":"+s.Reason)
	}
	return out
}

// TestPlanOutOfOrder: the later event on a member wins whichever notification brings it
// first, both ways round.
func TestPlanOutOfOrder(t *testing.T) {
	add := ev("a1", "ADD_GROUP_MEMBER", "bob@example.com", at(10))
	remove := ev("a2", "REMOVE_GROUP_MEMBER", "bob@example.com", at(20))

	// The removal arrives first: bob is not in the group, so nothing visible changes, but
	// its mark makes the older addition, arriving after, lose.
	first := Plan(Input{Group: group, Members: []greep.Member{alice}, Events: []greep.Event{remove}, Now: at(30)})
	if first.Changed || len(first.Applied) != 1 {
		t.Fatalf("removal of an absent member: changed %v, applied %d; want a mark only", first.Changed, len(first.Applied))
	}
	second := Plan(Input{Group: group, Members: first.Members, Marks: first.Marks, Events: []greep.Event{add}, Now: at(31)})
	if second.Changed || !slices.Equal(reasons(second.Skipped), []string{"a1:" + SkipSuperseded}) {
		t.Fatalf("older addition after the removal: changed %v, skipped %v", second.Changed, reasons(second.Skipped))
	}
	if got := emails(second.Members); !slices.Equal(got, []string{"alice@example.com"}) {
		t.Fatalf("members %v, want alice only", got)
	}

	// The addition arrives first, then the removal: bob comes and goes.
	first = Plan(Input{Group: group, Members: []greep.Member{alice}, Events: []greep.Event{add}, Known: map[string]greep.Member{"bob@example.com": bob}, Now: at(30)})
	if got := emails(first.Members); !slices.Equal(got, []string{"alice@example.com", "bob@example.com"}) {
		t.Fatalf("after the addition: %v", got)
	}
	if first.Members[1].ID != bob.ID || first.Members[1].Role != "MEMBER" {
		t.Fatalf("added member %+v: want bob's id and role MEMBER", first.Members[1])
	}
	second = Plan(Input{Group: group, Members: first.Members, Marks: first.Marks, Events: []greep.Event{remove}, Now: at(31)})
	if got := emails(second.Members); !slices.Equal(got, []string{"alice@example.com"}) || !second.Changed {
		t.Fatalf("after the removal: %v (changed %v)", got, second.Changed)
	}
	if len(second.Marks.Members) != 1 || second.Marks.Members[0].ActivityID != "a2" || second.Marks.Members[0].Present {
		t.Fatalf("marks %+v: want bob's removal (a2) only", second.Marks.Members)
	}
}

// TestPlanOlderThanLastRead: an event from before the group's last read never overrides it.
func TestPlanOlderThanLastRead(t *testing.T) {
	g := group
	g.MembersSyncedAt = at(60)
	res := Plan(Input{Group: g, Members: []greep.Member{alice, bob}, Events: []greep.Event{
		ev("a1", "REMOVE_GROUP_MEMBER", "bob@example.com", at(30)),
		ev("a2", "ADD_GROUP_MEMBER", "carol@example.com", at(60)), // as old as the read
	}, Now: at(90)})
	if res.Changed || len(res.Applied) != 0 || len(res.Marks.Members) != 0 {
		t.Fatalf("changed %v, applied %v, marks %v: want nothing", res.Changed, res.Applied, res.Marks.Members)
	}
	if got := reasons(res.Skipped); !slices.Equal(got, []string{"a1:" + SkipOlder, "a2:" + SkipOlder}) {
		t.Fatalf("skipped %v", got)
	}
	// A newer event still applies.
	res = Plan(Input{Group: g, Members: []greep.Member{alice, bob}, Events: []greep.Event{ev("a3", "REMOVE_GROUP_MEMBER", "bob@example.com", at(61))}, Now: at(90)})
	if got := emails(res.Members); !slices.Equal(got, []string{"alice@example.com"}) {
		t.Fatalf("newer removal: members %v", got)
	}
}

// TestPlanBurstOfOneMember: a burst adding and removing one member, delivered in any
// order and in any grouping, ends as its last event says.
func TestPlanBurstOfOneMember(t *testing.T) {
	burst := []greep.Event{
		ev("a1", "ADD_GROUP_MEMBER", "bob@example.com", at(1)),
		ev("a2", "REMOVE_GROUP_MEMBER", "bob@example.com", at(2)),
		ev("a3", "ADD_GROUP_MEMBER", "bob@example.com", at(3)),
		ev("a4", "UPDATE_GROUP_MEMBER", "bob@example.com", at(4)),
		ev("a5", "REMOVE_GROUP_MEMBER", "bob@example.com", at(5)),
		ev("a6", "ADD_GROUP_MEMBER", "bob@example.com", at(6)),
	}
	burst[3].NewValue = "MANAGER"
	known := map[string]greep.Member{"bob@example.com": bob}
	for _, tc := range []struct {
		name        string
		events      []int // indexes into burst, in delivery order
		batches     int
		wantPresent bool
		wantRole    string
		wantMark    string
	}{
		{"in order, one notification", []int{0, 1, 2, 3, 4, 5}, 1, true, "MEMBER", "a6"},
		{"reversed, one notification", []int{5, 4, 3, 2, 1, 0}, 1, true, "MEMBER", "a6"},
		{"reversed, one per notification", []int{5, 4, 3, 2, 1, 0}, 6, true, "MEMBER", "a6"},
		{"shuffled, one per notification", []int{2, 4, 0, 5, 3, 1}, 6, true, "MEMBER", "a6"},
		{"ending with a removal", []int{0, 1, 2, 3, 4}, 5, false, "", "a5"},
		{"ending with a role", []int{3, 0, 2, 1}, 4, true, "MANAGER", "a4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			members := []greep.Member{alice}
			var marks Marks
			per := len(tc.events) / tc.batches
			for b := range tc.batches {
				var evs []greep.Event
				for _, i := range tc.events[b*per : (b+1)*per] {
					evs = append(evs, burst[i])
				}
				res := Plan(Input{Group: group, Members: members, Marks: marks, Events: evs, Known: known, Now: at(10 + b)})
				members, marks = res.Members, res.Marks
			}
			i := find(members, "bob@example.com")
			if (i >= 0) != tc.wantPresent {
				t.Fatalf("bob present %v, want %v (members %v)", i >= 0, tc.wantPresent, emails(members))
			}
			if i >= 0 && members[i].Role != tc.wantRole {
				t.Fatalf("bob's role %q, want %q", members[i].Role, tc.wantRole)
			}
			if len(marks.Members) != 1 || marks.Members[0].ActivityID != tc.wantMark {
				t.Fatalf("marks %+v, want one from %s", marks.Members, tc.wantMark)
			}
		})
	}
}

// TestPlanBadInput: malformed and partial events, unknown members and a redelivered
// notification apply nothing.
func TestPlanBadInput(t *testing.T) {
	noTime := ev("b1", "ADD_GROUP_MEMBER", "carol@example.com", time.Time{})
	noMember := ev("b2", "ADD_GROUP_MEMBER", "", at(5))
	notAnAddress := ev("b3", "REMOVE_GROUP_MEMBER", "carol", at(5))
	badRole := ev("b4", "UPDATE_GROUP_MEMBER", "alice@example.com", at(5))
	badRole.NewValue = "EMPEROR"
	noID := ev("", "ADD_GROUP_MEMBER", "carol@example.com", at(5))
	unknownRole := ev("b6", "UPDATE_GROUP_MEMBER", "nobody@example.com", at(5))
	unknownRole.NewValue = "OWNER"
	noRole := ev("b8", "UPDATE_GROUP_MEMBER", "alice@example.com", at(5)) // partial: no new role
	control := ev("b7", "CHANGE_GROUP_SETTING", "", at(5))                // not a membership event: ignored
	res := Plan(Input{Group: group, Members: []greep.Member{alice}, Events: []greep.Event{noTime, noMember, notAnAddress, badRole, noID, unknownRole, noRole, control}, Now: at(9)})
	if res.Changed || len(res.Applied) != 0 || len(res.Marks.Members) != 0 {
		t.Fatalf("changed %v, applied %+v: want nothing", res.Changed, res.Applied)
	}
	want := []string{"b1:" + SkipMalformed, ":" + SkipMalformed, "b2:" + SkipMalformed, "b3:" + SkipMalformed, "b4:" + SkipMalformed, "b6:" + SkipUnknown, "b8:" + SkipMalformed}
	got := reasons(res.Skipped)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("skipped %v, want %v", got, want)
	}

	// The same notification delivered again applies nothing more.
	add := ev("c1", "ADD_GROUP_MEMBER", "carol@example.com", at(5))
	first := Plan(Input{Group: group, Members: []greep.Member{alice}, Events: []greep.Event{add}, Now: at(9)})
	if !first.Changed || first.Members[1].Type != greep.TypeUser || first.Members[1].ID != "" {
		t.Fatalf("outside address added: %+v", first.Members)
	}
	again := Plan(Input{Group: group, Members: first.Members, Marks: first.Marks, Events: []greep.Event{add}, Now: at(99)})
	if again.Changed || len(again.Applied) != 0 || !slices.Equal(reasons(again.Skipped), []string{"c1:" + SkipSuperseded}) {
		t.Fatalf("redelivery: changed %v, skipped %v", again.Changed, reasons(again.Skipped))
	}
}
