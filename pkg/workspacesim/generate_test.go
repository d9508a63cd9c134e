package workspacesim

import (
	"reflect"
	"testing"
)

func TestGenerationIsDeterministicAndRealistic(t *testing.T) {
	a, err := New(Config{Users: 400, Groups: 900, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{Users: 400, Groups: 900, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ta, _ := a.Truth("")
	tb, _ := b.Truth("")
	if !reflect.DeepEqual(ta, tb) {
		t.Fatal("the same seed made two different tenants")
	}
	c, _ := New(Config{Users: 400, Groups: 900, Seed: 12})
	if tc, _ := c.Truth(""); reflect.DeepEqual(ta, tc) {
		t.Fatal("another seed made the same tenant")
	}

	var members, empty, big, aliased, sentinel, external, nested, suspended, insecure int
	for _, g := range ta.Groups {
		members += len(g.Members)
		switch n := len(g.Members); {
		case n == 0:
			empty++
		case n >= 300:
			big++
		}
		if len(g.Aliases) > 0 {
			aliased++
		}
		if g.Settings["whoCanViewGroup"] == "ANYONE_CAN_VIEW" || g.Settings["whoCanJoin"] == "ANYONE_CAN_JOIN" || g.Settings["allowExternalMembers"] == "true" {
			insecure++
		}
		for _, m := range g.Members {
			switch {
			case m.Email == a.Sentinel():
				sentinel++
			case m.Type == "GROUP":
				nested++
			case m.Status == "SUSPENDED" || m.Status == "ARCHIVED":
				suspended++
			}
			if m.Type == "USER" && a.t.byKey[m.Email].external {
				external++
			}
		}
	}
	for name, n := range map[string]int{"empty": empty, "big": big, "aliased": aliased, "sentinel": sentinel,
		"external": external, "nested": nested, "suspended or archived": suspended, "insecure": insecure} {
		if n == 0 {
			t.Errorf("no %s groups or members in a 900-group tenant", name)
		}
	}
	if mean := float64(members) / float64(len(ta.Groups)); mean < 7 || mean > 10 {
		t.Errorf("%.1f members per group, want about %.1f", mean, membersPerGroup)
	}
	if insecure > len(ta.Groups)/2 {
		t.Errorf("%d of %d groups insecure: not a realistic share", insecure, len(ta.Groups))
	}

	// A cycle exists, and every generated combination of settings is one Google accepts.
	cycle := false
	for _, g := range a.actual.groups {
		if err := checkCombination(g.settings); err != nil {
			t.Fatalf("%s: generated settings refused: %v", g.p.email, err)
		}
		for _, m := range g.members {
			if child := a.actual.byP[m.p]; child != nil {
				if _, back := child.find(g.p); back {
					cycle = true
				}
			}
		}
	}
	if !cycle {
		t.Error("no nested-group cycle")
	}
}

func TestMutationsOnDeletedGroupsAndNoOps(t *testing.T) {
	s, err := New(Config{Users: 5, Groups: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := s.Domain()
	if err := s.Apply([]Mutation{
		{Op: "createGroup", Group: "a@" + d},
		{Op: "createGroup", Group: "b@" + d},
		{Op: "addMember", Group: "a@" + d, Member: "b@" + d},
		{Op: "deleteGroup", Group: "b@" + d},
	}); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Truth("a@" + d)
	if len(a.Groups[0].Members) != 0 {
		t.Fatalf("a deleted group is still a member: %+v", a.Groups[0].Members)
	}
	if err := s.Apply([]Mutation{{Op: "addMember", Group: "a@" + d, Member: "b@" + d}}); err == nil {
		t.Fatal("a deleted group was added as a member")
	}
	if err := s.Apply([]Mutation{{Op: "addMember", Group: "a@" + d, Member: "a@" + d}}); err == nil {
		t.Fatal("a group was added to itself")
	}
	// Re-creating the email makes a new group with a new id.
	if err := s.Apply([]Mutation{{Op: "createGroup", Group: "b@" + d}}); err != nil {
		t.Fatal(err)
	}
	logged := len(s.log.items)
	settings := map[string]string{"whoCanJoin": a.Groups[0].Settings["whoCanJoin"]}
	if err := s.Apply([]Mutation{{Op: "setSettings", Group: "a@" + d, Settings: settings}}); err != nil {
		t.Fatal(err)
	}
	if len(s.log.items) != logged {
		t.Fatal("setting a value to what it was logged an activity")
	}
}
