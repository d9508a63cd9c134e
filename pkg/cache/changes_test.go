package cache

import (
	"slices"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// TestMemberChangesProvisional: a read confirming provisional changes writes one
// "confirmed" record per member (an outside member the provisional add knew only by
// address included) and no field changes; a read undoing one is marked reverted.
func TestMemberChangesProvisional(t *testing.T) {
	g := greep.Group{ID: "g1", Email: "eng@example.com"}
	provisional := []greep.Member{
		{ID: "u-a", Email: "a@example.com", Role: "OWNER", Type: "USER", Status: "ACTIVE"},
		{Email: "out@elsewhere.example", Role: "MEMBER", Type: "USER"},
		{ID: "u-c", Email: "c@example.com", Role: "MEMBER", Type: "USER", Status: "ACTIVE"},
	}
	read := []greep.Member{
		{ID: "u-a", Email: "a@example.com", Role: "OWNER", Type: "USER", Status: "ACTIVE"},
		{ID: "x9", Email: "out@elsewhere.example", Role: "MEMBER", Type: "USER", Status: "ACTIVE"},
	}
	c := greep.ChangeCause{Cause: greep.CausePush, ActivityID: "refresh", Members: map[string]greep.MemberCause{
		"a@example.com":         {ActivityID: "act-a", Confirmed: true},
		"out@elsewhere.example": {ActivityID: "act-out", Confirmed: true},
		"c@example.com":         {ActivityID: "act-c", Reverted: true},
		"gone@example.com":      {ActivityID: "act-gone", Confirmed: true}, // a removal the read shows
	}}
	var got []string
	for _, ch := range MemberChanges(g, provisional, read, c) {
		if ch.Members != nil {
			t.Fatal("a record carries the write's per-member causes")
		}
		got = append(got, ch.Member+" "+ch.Kind+" "+ch.ActivityID+map[bool]string{true: " reverted"}[ch.Reverted])
	}
	want := []string{
		"c@example.com removed act-c reverted",
		"a@example.com confirmed act-a",
		"out@elsewhere.example confirmed act-out",
		"gone@example.com confirmed act-gone",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("records\n%q\nwant\n%q", got, want)
	}

	// Without causes, an id-less member and its read are one member whose status changed.
	var kinds []string
	for _, ch := range MemberChanges(g, provisional[1:2], read[1:], greep.ChangeCause{}) {
		kinds = append(kinds, ch.Kind)
	}
	if !slices.Equal(kinds, []string{greep.ChangeStatusChanged}) {
		t.Fatalf("id-less member read back: %v", kinds)
	}
}
