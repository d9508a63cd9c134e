package datastore

import (
	"context"
	"testing"
)

// A transaction and a plain put each count as a commit, with their mutations.
func TestWriteStatsCountCommitsAndMutations(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	defer s.Close()
	before := s.WriteStats()
	if err := s.PutRecord(ctx, "k", "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRecord(ctx, "k", "b", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Count(ctx, "c"); err != nil { // a read: not counted
		t.Fatal(err)
	}
	after := s.WriteStats()
	if got := after.Transactions - before.Transactions; got != 2 {
		t.Errorf("a put and a create counted %d commits, want 2", got)
	}
	if got := after.EntityWrites - before.EntityWrites; got != 2 {
		t.Errorf("a put and a create counted %d mutations, want 2", got)
	}
}
