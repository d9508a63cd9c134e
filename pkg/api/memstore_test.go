package api

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
)

// memStore is the handler tests' store: the shared in-memory store (which passes the
// store contract), with helpers that fill it. Its Intercept makes calls fail.
type memStore struct{ *memory.Store }

func newMemStore() *memStore { return &memStore{memory.New()} }

// put stores g with exactly the members ms; g's DirectMembersCount counts them. It
// panics on an error: the fixtures are built before a test has its *testing.T.
func (s *memStore) put(g greep.Group, ms []greep.Member) {
	ctx := context.Background()
	g.DirectMembersCount = int64(len(ms))
	if err := s.PutGroups(ctx, []greep.Group{g}); err != nil {
		panic(err)
	}
	if err := s.ReplaceMembers(ctx, g.ID, ms, g.MembersETag, g.MembersSyncedAt); err != nil {
		panic(err)
	}
}

func (s *memStore) addEvents(t *testing.T, es ...greep.Event) {
	t.Helper()
	if _, err := s.AddEvents(context.Background(), es); err != nil {
		t.Fatal(err)
	}
}

func (s *memStore) putFindings(t *testing.T, fs ...greep.Finding) {
	t.Helper()
	for _, f := range fs {
		if _, err := s.UpdateFinding(context.Background(), f.ID, func(cur *greep.Finding) error { *cur = f; return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *memStore) putState(t *testing.T, name string, doc []byte) {
	t.Helper()
	if err := s.UpdateState(context.Background(), name, func([]byte) ([]byte, error) { return doc, nil }); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
