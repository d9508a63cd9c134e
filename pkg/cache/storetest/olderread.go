package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// testOlderRead: a member list read before the stored one changes nothing, whether it
// comes alone (ReplaceMembers) or in a task's unit of work (Commit, whose other writes
// still go in); a list read at the same time replaces it, as a redelivered task's does.
// Two reads of one group stored out of order so leave the later read in place.
func testOlderRead(t *testing.T, s greep.Store) {
	t1 := t0.Add(time.Minute)
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com")}))
	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("alice"), user("bob")}, "etag-new", t1))
	_, head, err := s.Changes(ctx, greep.ChangeQuery{})
	must(t, err)
	keptNewer := func(after string) {
		t.Helper()
		ms, err := s.Members(ctx, "g1")
		must(t, err)
		if got := memberIDs(ms); !reflect.DeepEqual(got, []string{"alice", "bob"}) {
			t.Errorf("%s: members %v, want the newer read's [alice bob]", after, got)
		}
		g, err := s.Group(ctx, "g1")
		must(t, err)
		if g.MembersETag != "etag-new" || !g.MembersSyncedAt.Equal(t1) {
			t.Errorf("%s: version %q %v, want etag-new at %v", after, g.MembersETag, g.MembersSyncedAt, t1)
		}
		page, _, err := s.Changes(ctx, greep.ChangeQuery{Since: head})
		must(t, err)
		if len(page) != 0 {
			t.Errorf("%s: %d change records, want none", after, len(page))
		}
	}

	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("carol")}, "etag-old", t0))
	keptNewer("ReplaceMembers of an older read")

	if c, ok := s.(greep.Committer); ok {
		must(t, c.Commit(ctx, &greep.Writes{
			Members: []greep.MembersWrite{{GroupID: "g1", Members: []greep.Member{user("carol")}, ETag: "etag-old", SyncedAt: t0}},
			Marks:   []greep.Mark{{Kind: "done", ID: "g1", Counter: "done", Delta: 1}},
		}))
		keptNewer("a Commit of an older read")
		n, err := s.Count(ctx, "done")
		must(t, err)
		if n != 1 {
			t.Errorf("the unit's counter after its older read was kept out: %d, want 1", n)
		}
	}

	must(t, s.ReplaceMembers(ctx, "g1", []greep.Member{user("carol")}, "etag-same", t1))
	ms, err := s.Members(ctx, "g1")
	must(t, err)
	if got := memberIDs(ms); !reflect.DeepEqual(got, []string{"carol"}) {
		t.Errorf("a read at the stored list's time: members %v, want [carol]", got)
	}
}
