package bench

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/workspacesim"
)

// TestOvertakenChangeIsNotUnseen: an add removed again before the cache showed it can
// never show; it is counted as overtaken, and only the removal is left to watch.
func TestOvertakenChangeIsNotUnseen(t *testing.T) {
	sim, err := workspacesim.New(workspacesim.Config{Users: 3, Groups: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	truth, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	g, other := truth.Groups[0], truth.Groups[1]
	w := newWatcher(memory.New(), sim.Now, 1)
	chg := func(group workspacesim.TruthGroup, op, member string) change {
		return change{groupID: group.ID, groupEmail: group.Email, member: member, removed: op == "removeMember"}
	}
	muts := []workspacesim.Mutation{
		{Op: "addMember", Group: g.Email, Member: "late@outside.example"},
		{Op: "addMember", Group: other.Email, Member: "late@outside.example"},
		{Op: "removeMember", Group: g.Email, Member: "LATE@outside.example"},
	}
	changes := []change{chg(g, "addMember", "late@outside.example"), chg(other, "addMember", "late@outside.example"), chg(g, "removeMember", "LATE@outside.example")}
	if refused := w.apply(sim, muts, changes); refused != 0 {
		t.Fatalf("%d mutations refused", refused)
	}
	if n := w.overtakenCount(); n != 1 {
		t.Errorf("overtaken %d, want 1 (the first add)", n)
	}
	// The cache is empty: the removal shows at once, the other group's add not yet.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.poll(ctx); err != nil {
		t.Fatal(err)
	}
	members, _, err := w.result()
	if err != nil {
		t.Fatal(err)
	}
	if members.Changes != 2 || members.Unseen != 1 || w.overtakenCount() != 1 {
		t.Errorf("freshness %+v, overtaken %d: want the removal seen, the other add unseen, one overtaken", members, w.overtakenCount())
	}
}
