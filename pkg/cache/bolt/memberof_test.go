package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache/storetest"

	"github.com/greephq/greep/pkg/greep"
)

// TestMemberOfAfterReopen: the reverse index lives in memory and is rebuilt from the
// snapshots when the file opens; a file written when it was stored loses its bucket.
func TestMemberOfAfterReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "greep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroups(ctx, []greep.Group{{ID: "g1", Email: "g1@example.com"}, {ID: "g2", Email: "g2@example.com"}}); err != nil {
		t.Fatal(err)
	}
	a := greep.Member{ID: "ua", Email: "a@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	b := greep.Member{ID: "ub", Email: "b@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	for g, ms := range map[string][]greep.Member{"g1": {a, b}, "g2": {a}} {
		if err := s.ReplaceMembers(ctx, g, ms, "e", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReplaceMembers(ctx, "g1", []greep.Member{b}, "e2", time.Now()); err != nil {
		t.Fatal(err)
	}
	// An old file's stored index.
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket(bStoredMemberOf)
		if err != nil {
			return err
		}
		return b.Put([]byte("ua\x00g1"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for key, want := range map[string][]string{"ua": {"g2"}, "A@example.com": {"g2"}, "ub": {"g1"}} {
		if got, err := s.MemberOf(ctx, key); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("MemberOf(%s) after reopening = %v, %v; want %v", key, got, err, want)
		}
	}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bStoredMemberOf) != nil {
			return errors.New("the stored index is still there")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestMemberOfIgnoresARolledBackSwap: a swap in a transaction that fails after it leaves
// the index as it was.
func TestMemberOfIgnoresARolledBackSwap(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, greep.Group{ID: "g", Email: "g@example.com"})
	m := greep.Member{ID: "u", Email: "u@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	failed := errors.New("later in the unit of work")
	err := s.update(func(tx *bbolt.Tx) error {
		if _, err := s.replaceMembers(tx, "g", nil, []greep.Member{m}, "e", time.Now(), greep.ChangeCause{}); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("update: %v", err)
	}
	if got, err := s.MemberOf(ctx, "u"); err != nil || len(got) != 0 {
		t.Errorf("MemberOf(u) after the rolled-back swap = %v, %v; want none", got, err)
	}
	// The next transaction does not inherit the failed one's deltas.
	if err := s.ReplaceMembers(ctx, "g", nil, "e", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.MemberOf(ctx, "u"); len(got) != 0 {
		t.Errorf("MemberOf(u) = %v after an empty list was stored", got)
	}
}

// BenchmarkOpenOrigin: opening a store that holds the origin's tenant, which rebuilds the
// reverse index from its snapshots, and the heap the index takes.
//
//	go test -run '^$' -bench OpenOrigin -benchtime 3x ./pkg/cache/bolt
func BenchmarkOpenOrigin(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "greep.db")
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	tn := storetest.NewTenant(storetest.OriginGroups, storetest.OriginMemberships, storetest.OriginUsers, 1)
	if err := tn.Load(ctx, s, 4); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var heap float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / (1 << 20)
		keys, entries := s.index.Size()
		b.ReportMetric(float64(keys), "keys")
		b.ReportMetric(float64(entries), "entries")
		s.Close()
	}
	b.ReportMetric(heap, "index-heap-MB")
}
