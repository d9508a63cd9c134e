package provisional

import (
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func ids(ms []Mark) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ActivityID)
	}
	return out
}

// TestSettle: a read confirms the marks it shows; one it does not show yet stays over
// it (lagging when it was applied before the read) until the last re-poll drops it.
func TestSettle(t *testing.T) {
	carol := greep.Member{Email: "carol@example.com", Role: "MEMBER", Type: greep.TypeUser}
	marks := Marks{Members: []Mark{
		{Member: "bob@example.com", Present: false, ActivityID: "gone", AcceptedAt: at(10)},                 // the read shows it
		{Member: "carol@example.com", Present: true, Value: &carol, ActivityID: "lag", AcceptedAt: at(10)},  // Google lags
		{Member: "alice@example.com", Present: true, Role: "OWNER", ActivityID: "late", AcceptedAt: at(50)}, // after the read began
	}}
	read := []greep.Member{alice} // bob removed; carol not shown yet; alice still MEMBER

	s := Settle(read, marks, at(40), false)
	if !slices.Equal(ids(s.Confirmed), []string{"gone"}) || len(s.Dropped) != 0 {
		t.Fatalf("confirmed %v dropped %v", ids(s.Confirmed), ids(s.Dropped))
	}
	if !slices.Equal(ids(s.Kept), []string{"lag", "late"}) || !slices.Equal(ids(s.Lagging), []string{"lag"}) {
		t.Fatalf("kept %v lagging %v", ids(s.Kept), ids(s.Lagging))
	}
	if got := emails(s.Members); !slices.Equal(got, []string{"alice@example.com", "carol@example.com"}) {
		t.Fatalf("members %v: want the read with carol over it", got)
	}
	if i := find(s.Members, "alice@example.com"); s.Members[i].Role != "OWNER" {
		t.Fatalf("alice %+v: want the provisional role over the read", s.Members[i])
	}
	if read[0].Role != "MEMBER" {
		t.Fatal("Settle changed the read it was given")
	}

	// The last re-poll still does not show carol: her mark is dropped; the later mark,
	// applied after the read began, is not this read's to judge.
	s = Settle(read, marks, at(40), true)
	if !slices.Equal(ids(s.Dropped), []string{"lag"}) || !slices.Equal(ids(s.Kept), []string{"late"}) || len(s.Lagging) != 0 {
		t.Fatalf("final: dropped %v kept %v lagging %v", ids(s.Dropped), ids(s.Kept), ids(s.Lagging))
	}
	if got := emails(s.Members); !slices.Equal(got, []string{"alice@example.com"}) {
		t.Fatalf("final members %v", got)
	}

	// Any read MaxAge after a mark was accepted drops it too.
	s = Settle(read, marks, at(50).Add(MaxAge+time.Second), false)
	if !slices.Equal(ids(s.Dropped), []string{"lag", "late"}) {
		t.Fatalf("after MaxAge: dropped %v", ids(s.Dropped))
	}
}
