package bolt

import (
	"context"
	"testing"
)

// Every write method is one Update, and the bench's per-call figures rest on the count.
func TestWriteStatsCountTransactions(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	before := s.WriteStats()
	if err := s.PutRecord(ctx, "k", "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddCount(ctx, "c", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Count(ctx, "c"); err != nil { // a read: not counted
		t.Fatal(err)
	}
	after := s.WriteStats()
	if got := after.Transactions - before.Transactions; got != 2 {
		t.Errorf("two writes and a read counted %d write transactions, want 2", got)
	}
	if after.PageWrites <= before.PageWrites {
		t.Errorf("page writes %d -> %d: two commits wrote no page", before.PageWrites, after.PageWrites)
	}
}
