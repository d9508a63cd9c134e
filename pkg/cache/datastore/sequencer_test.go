package datastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	ds "cloud.google.com/go/datastore"

	"github.com/greephq/greep/pkg/greep"
)

func member(id string) greep.Member {
	return greep.Member{ID: id, Email: id + "@example.com", Type: "USER", Role: "MEMBER"}
}

// rawHead reads the log entity as stored, without flushing what this process staged.
func rawHead(t *testing.T, s *Store) int64 {
	t.Helper()
	var l changeLogEntity
	err := s.client.Get(context.Background(), s.changeLogKey(), &l)
	if err != nil && !errors.Is(err, ds.ErrNoSuchEntity) {
		t.Fatal(err)
	}
	return l.Head
}

func staged(t *testing.T, s *Store) int {
	t.Helper()
	keys, err := s.client.GetAll(context.Background(), s.query(kindPending).KeysOnly(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// Concurrent writers to many groups stage their records in their groups and leave the
// log alone; one flush numbers them all, each group's in its commit order.
func TestSequenceNumbersWhatWritersStaged(t *testing.T) {
	s := newStore(t)
	defer s.Close()
	s.seq.manual = true
	ctx := context.Background()
	const groups = 30 // more than one round's entity groups
	var gs []greep.Group
	for i := range groups {
		gs = append(gs, greep.Group{ID: fmt.Sprintf("g%02d", i), Email: fmt.Sprintf("g%02d@example.com", i)})
	}
	if err := s.PutGroups(ctx, gs); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, groups)
	for _, g := range gs {
		wg.Go(func() {
			// Two swaps a group: added, then removed and added.
			for i := range 2 {
				if err := s.ReplaceMembers(ctx, g.ID, []greep.Member{member(fmt.Sprintf("%s-u%d", g.ID, i))}, "", time.Now()); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if h := rawHead(t, s); h != 0 {
		t.Fatalf("the writers moved the log's head to %d: they must only stage", h)
	}
	// PutGroups' two transactions (25 and 5 groups) stage one entity a group, each swap one.
	if n := staged(t, s); n != groups+2*groups {
		t.Fatalf("%d staged entities, want %d", n, 3*groups)
	}
	l, err := s.ChangeLog(ctx) // flushes
	if err != nil {
		t.Fatal(err)
	}
	const want = groups * (1 + 1 + 2) // created; added; removed and added
	if l.Head != want || rawHead(t, s) != want {
		t.Fatalf("head %d after the flush, want %d", l.Head, want)
	}
	if n := staged(t, s); n != 0 {
		t.Fatalf("%d entities still staged after the flush", n)
	}
	cs, _, err := s.Changes(ctx, greep.ChangeQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != want {
		t.Fatalf("%d records in the feed, want %d", len(cs), want)
	}
	// Each group's records in its commit order: created, then u0 added, then u0 removed
	// and u1 added.
	seen := map[string][]string{}
	for i, c := range cs {
		if c.Cursor != uint64(i+1) {
			t.Fatalf("record %d has cursor %d", i, c.Cursor)
		}
		seen[c.GroupID] = append(seen[c.GroupID], c.Kind+" "+c.Member)
	}
	for _, g := range gs {
		got := seen[g.ID]
		if len(got) != 4 || got[0] != greep.ChangeGroupCreated+" " || got[1] != greep.ChangeAdded+" "+g.ID+"-u0@example.com" {
			t.Errorf("group %s: records %q", g.ID, got)
		}
	}
}

// A group's records keep its commit order when the clock that stamps them goes back, as
// one instance's clock may be behind another's.
func TestSequenceKeepsAGroupsOrderWhateverTheClock(t *testing.T) {
	s := newStore(t)
	defer s.Close()
	s.seq.manual = true
	ctx := context.Background()
	clock := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s.seq.now = func() time.Time { return clock }
	if err := s.PutGroups(ctx, []greep.Group{{ID: "g", Email: "g@example.com"}, {ID: "h", Email: "h@example.com"}}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b", "c"} {
		clock = clock.Add(-time.Duration(i+1) * time.Minute)
		if err := s.ReplaceMembers(ctx, "g", []greep.Member{member(id)}, "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	cs, _, err := s.Changes(ctx, greep.ChangeQuery{Group: "g", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Kind+" "+c.Member)
	}
	want := []string{
		greep.ChangeGroupCreated + " ",
		greep.ChangeAdded + " a@example.com",
		greep.ChangeRemoved + " a@example.com", greep.ChangeAdded + " b@example.com",
		greep.ChangeRemoved + " b@example.com", greep.ChangeAdded + " c@example.com",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records %q, want %q", got, want)
	}
}

// Records a process staged and never sequenced (it died) go into the log with the next
// round another process runs, before that process's own newer ones.
func TestSequenceTakesWhatADeadProcessStaged(t *testing.T) {
	dead := newStore(t)
	defer dead.Close() // the client, which the next process shares
	dead.seq.manual = true
	ctx := context.Background()
	if err := dead.PutGroups(ctx, []greep.Group{{ID: "g", Email: "g@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := dead.ReplaceMembers(ctx, "g", []greep.Member{member("a")}, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	dead.closeSequencer()
	next := New(dead.client, dead.ns)
	defer next.Close()
	if h := rawHead(t, next); h != 0 {
		t.Fatalf("head %d before any round", h)
	}
	if err := next.ReplaceMembers(ctx, "g", []greep.Member{member("a"), member("b")}, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	cs, _, err := next.Changes(ctx, greep.ChangeQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Kind+" "+c.Member)
	}
	want := []string{greep.ChangeGroupCreated + " ", greep.ChangeAdded + " a@example.com", greep.ChangeAdded + " b@example.com"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records %q, want %q", got, want)
	}
}

// The background round takes staged records without a reader asking, and wakes the
// process's long polls.
func TestSequenceRunsInTheBackground(t *testing.T) {
	s := newStore(t)
	defer s.Close()
	ctx := context.Background()
	signal := s.ChangeSignal()
	if err := s.PutGroups(ctx, []greep.Group{{ID: "g", Email: "g@example.com"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-signal:
	case <-time.After(time.Minute):
		t.Fatal("no signal after the round")
	}
	if h := rawHead(t, s); h != 1 {
		t.Fatalf("head %d after the signal, want 1", h)
	}
}

func TestSequenceGroupPrefix(t *testing.T) {
	k := func(g string) *ds.Key { return ds.NameKey(kindPending, "x", ds.NameKey(kindGroup, g, nil)) }
	keys := []*ds.Key{k("a"), k("b"), k("a"), k("c"), k("b"), k("d")}
	if got := groupPrefix(keys, 2); len(got) != 3 {
		t.Errorf("2 groups: %d keys, want 3 (a, b, a)", len(got))
	}
	if got := groupPrefix(keys, 3); len(got) != 5 {
		t.Errorf("3 groups: %d keys, want 5", len(got))
	}
	if got := groupPrefix(keys, 4); len(got) != 6 {
		t.Errorf("4 groups: %d keys, want 6", len(got))
	}
}

// Pruning sees what this process staged: the records are sequenced first.
func TestSequenceBeforePruning(t *testing.T) {
	s := newStore(t)
	defer s.Close()
	s.seq.manual = true
	old := greep.WithCause(context.Background(), greep.ChangeCause{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := s.PutGroups(old, []greep.Group{{ID: "g", Email: "g@example.com"}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneChanges(context.Background(), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 100)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want the 1 staged record", n, err)
	}
}
