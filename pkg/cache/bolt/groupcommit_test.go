package bolt

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// waitPending waits until n Commits are queued behind the held writer.
func waitPending(t *testing.T, q *commitQueue, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		q.mu.Lock()
		got := len(q.pending)
		q.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commits queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Commits that arrive while another writes go together in the next transaction; one that
// fails there fails alone, and the rest land as they would have by themselves.
func TestCommitsQueuedTogetherShareATransaction(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, greep.Group{ID: "g1", Email: "g1@example.com"})
	before := s.WriteStats()

	const n = 6
	units := make([]*greep.Writes, n)
	for i := range units {
		units[i] = &greep.Writes{
			Puts:   []greep.Record{{Kind: "unit", ID: fmt.Sprint(i), Data: []byte("x")}},
			Counts: []greep.Count{{Name: "units", Delta: 1}},
		}
	}
	units[0].Members = []greep.MembersWrite{{GroupID: "g1", Members: []greep.Member{{ID: "u1", Email: "a@example.com", Role: "MEMBER", Type: "USER"}}}}

	s.commits.writer.Lock() // as a Commit writing: the n below queue behind it
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, w := range units {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Commit(ctx, w) }()
	}
	waitPending(t, &s.commits, n)
	s.commits.writer.Unlock()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("unit %d: %v", i, err)
		}
	}
	if got := s.WriteStats().Transactions - before.Transactions; got != 1 {
		t.Errorf("%d queued commits took %d write transactions, want 1", n, got)
	}
	if c, _ := s.Count(ctx, "units"); c != n {
		t.Errorf("counter units = %d, want %d", c, n)
	}
	if ms, err := s.Members(ctx, "g1"); err != nil || len(ms) != 1 {
		t.Errorf("g1's members = %v, %v; want the one committed", ms, err)
	}

	// A unit naming a group the store lacks fails its batch: it fails alone.
	bad := &greep.Writes{
		Members: []greep.MembersWrite{{GroupID: "missing", Members: []greep.Member{}}},
		Puts:    []greep.Record{{Kind: "unit", ID: "bad", Data: []byte("x")}},
		Counts:  []greep.Count{{Name: "units", Delta: 100}},
	}
	good := []*greep.Writes{
		{Puts: []greep.Record{{Kind: "unit", ID: "a", Data: []byte("x")}}, Counts: []greep.Count{{Name: "units", Delta: 1}}},
		{Puts: []greep.Record{{Kind: "unit", ID: "b", Data: []byte("x")}}, Counts: []greep.Count{{Name: "units", Delta: 1}}},
	}
	s.commits.writer.Lock()
	var badErr error
	goodErrs := make([]error, len(good))
	wg.Add(1 + len(good))
	go func() { defer wg.Done(); goodErrs[0] = s.Commit(ctx, good[0]) }()
	waitPending(t, &s.commits, 1)
	go func() { defer wg.Done(); badErr = s.Commit(ctx, bad) }()
	waitPending(t, &s.commits, 2)
	go func() { defer wg.Done(); goodErrs[1] = s.Commit(ctx, good[1]) }()
	waitPending(t, &s.commits, 3)
	s.commits.writer.Unlock()
	wg.Wait()
	if greep.ErrorCode(badErr) != greep.ENOTFOUND {
		t.Errorf("the unit naming a missing group: %v, want %s", badErr, greep.ENOTFOUND)
	}
	for i, err := range goodErrs {
		if err != nil {
			t.Errorf("good unit %d, batched with a failing one: %v", i, err)
		}
	}
	if c, _ := s.Count(ctx, "units"); c != n+2 {
		t.Errorf("counter units = %d, want %d: the failed unit's count must not land, the others' must", c, n+2)
	}
	ids := map[string]bool{}
	if err := s.Records(ctx, "unit", func(id string, _ []byte) error { ids[id] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if ids["bad"] || !ids["a"] || !ids["b"] {
		t.Errorf("records after the batch: %v; want a and b, not bad", ids)
	}
}

// A batch whose writing panics fails each of its units; none is left waiting.
func TestAPanickingBatchFailsItsUnits(t *testing.T) {
	var q commitQueue
	q.writer.Lock()
	units := []*pendingCommit{{}, {}, {}}
	errs := make([]error, len(units))
	var wg sync.WaitGroup
	for i, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.do([]*pendingCommit{u}, func([]*pendingCommit) { panic("boom") })
			errs[i] = u.err
		}()
	}
	waitPending(t, &q, len(units))
	q.writer.Unlock()
	wg.Wait()
	for i, err := range errs {
		if greep.ErrorCode(err) != greep.EINTERNAL {
			t.Errorf("unit %d: %v, want %s", i, err, greep.EINTERNAL)
		}
	}
}
