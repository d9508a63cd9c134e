package storetest

import (
	"fmt"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// commitTests are Committer's part of the contract: one task's writes committed at once.
var commitTests = []struct {
	name string
	fn   func(*testing.T, greep.Store)
}{
	{"Commit", testCommit},
	{"CommitRefused", testCommitRefused},
	{"CommitLarge", testCommitLarge},
}

func testCommit(t *testing.T, s greep.Store) {
	must(t, s.PutGroups(ctx, []greep.Group{group("g1", "g1@example.com")}))
	must(t, s.PutRecord(ctx, "task", "old", []byte("queued")))
	must(t, s.CreateRecord(ctx, "done", "seen", nil))
	cause := greep.ChangeCause{Cause: greep.CauseResync, At: t0}
	l0, err := s.ChangeLog(ctx)
	must(t, err)
	w := &greep.Writes{
		Members: []greep.MembersWrite{{GroupID: "g1", Members: []greep.Member{user("bob"), user("alice")}, ETag: "e1", SyncedAt: t0, Cause: cause}},
		Marks: []greep.Mark{
			{Kind: "done", ID: "new", Data: []byte("1"), Counter: "done", Delta: 1},
			{Kind: "done", ID: "seen", Data: []byte("1"), Counter: "done", Delta: 1}, // exists: not counted
			{Kind: "done", ID: "new", Data: []byte("1"), Counter: "done", Delta: 1},  // twice in one unit: once
		},
		Counts:  []greep.Count{{Name: "calls", Delta: 1}, {Name: "calls", Delta: 2}},
		Puts:    []greep.Record{{Kind: "task", ID: "next", Data: []byte("queued")}},
		Deletes: []greep.RecordKey{{Kind: "task", ID: "old"}, {Kind: "task", ID: "never"}},
	}
	must(t, s.Commit(ctx, w))

	ms, err := s.Members(ctx, "g1")
	must(t, err)
	if got := memberIDs(ms); len(got) != 2 || got[0] != "alice" || got[1] != "bob" {
		t.Errorf("members after the commit: %v, want [alice bob]", got)
	}
	g, err := s.Group(ctx, "g1")
	must(t, err)
	if g.MembersETag != "e1" || !g.MembersSyncedAt.Equal(t0) {
		t.Errorf("group after the commit: etag %q synced %v, want e1 at %v", g.MembersETag, g.MembersSyncedAt, t0)
	}
	for name, want := range map[string]int64{"done": 1, "calls": 3} {
		n, err := s.Count(ctx, name)
		must(t, err)
		if n != want {
			t.Errorf("counter %s = %d, want %d", name, n, want)
		}
	}
	tasks := map[string]string{}
	must(t, s.Records(ctx, "task", func(id string, data []byte) error { tasks[id] = string(data); return nil }))
	if len(tasks) != 1 || tasks["next"] != "queued" {
		t.Errorf("task records after the commit: %v, want only next", tasks)
	}
	l, err := s.ChangeLog(ctx)
	must(t, err)
	cs, _, err := s.Changes(ctx, greep.ChangeQuery{Since: l0.Head})
	must(t, err)
	if l.Head != l0.Head+2 || len(cs) != 2 {
		t.Fatalf("the commit wrote %d change records (head %d -> %d), want 2 (alice and bob added)", len(cs), l0.Head, l.Head)
	}
	for _, c := range cs {
		if c.Cause != cause.Cause {
			t.Errorf("change record %+v: cause %q, want the unit's %q", c, c.Cause, cause.Cause)
		}
	}
	must(t, s.Commit(ctx, &greep.Writes{}))
	must(t, s.Commit(ctx, nil))
}

// A unit the store refuses writes nothing of it: a group that does not exist, or a bad
// key, fail the whole commit.
func testCommitRefused(t *testing.T, s greep.Store) {
	w := &greep.Writes{
		Members: []greep.MembersWrite{{GroupID: "missing", Members: []greep.Member{user("alice")}, SyncedAt: t0}},
		Counts:  []greep.Count{{Name: "calls", Delta: 1}},
		Puts:    []greep.Record{{Kind: "task", ID: "next"}},
	}
	wantCode(t, "Commit with a missing group", s.Commit(ctx, w), greep.ENOTFOUND)
	bad := &greep.Writes{
		Counts: []greep.Count{{Name: "calls", Delta: 1}},
		Puts:   []greep.Record{{Kind: "task", ID: ""}},
	}
	wantCode(t, "Commit with an empty record id", s.Commit(ctx, bad), greep.EINVALID)
	n, err := s.Count(ctx, "calls")
	must(t, err)
	if n != 0 {
		t.Errorf("refused commits counted %d calls, want 0", n)
	}
	seen := 0
	must(t, s.Records(ctx, "task", func(string, []byte) error { seen++; return nil }))
	if seen != 0 {
		t.Errorf("refused commits left %d task records, want 0", seen)
	}
}

// A unit larger than one Datastore commit (a groups page enqueuing its member reads)
// still commits whole, each marker counting once.
func testCommitLarge(t *testing.T, s greep.Store) {
	const n = 260
	must(t, s.CreateRecord(ctx, "done", fmt.Sprint(0), nil))
	w := &greep.Writes{Deletes: []greep.RecordKey{{Kind: "task", ID: "old"}}}
	for i := range n {
		w.Marks = append(w.Marks, greep.Mark{Kind: "done", ID: fmt.Sprint(i), Counter: "done", Delta: 1})
		w.Puts = append(w.Puts, greep.Record{Kind: "task", ID: fmt.Sprint(i), Data: []byte("queued")})
	}
	must(t, s.PutRecord(ctx, "task", "old", nil))
	must(t, s.Commit(ctx, w))
	done, err := s.Count(ctx, "done")
	must(t, err)
	if done != n-1 {
		t.Errorf("counter done = %d, want %d (one marker existed)", done, n-1)
	}
	tasks := 0
	must(t, s.Records(ctx, "task", func(id string, _ []byte) error {
		if id == "old" {
			t.Error("the deleted record is still there")
		}
		tasks++
		return nil
	}))
	if tasks != n {
		t.Errorf("%d task records, want %d", tasks, n)
	}
}
