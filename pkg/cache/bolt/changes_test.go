package bolt

import (
	"context"
	"fmt"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/greep"
)

// The change feed only appends, so its pages are filled, not split half full: the feed
// takes about half the pages, and a commit that appends to it splits its last page half
// as often.
func TestChangeFeedPagesAreFull(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, greep.Group{ID: "g", Email: "g@example.com"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// A commit at a time, as tasks commit: 300 writes of 8 new members each.
	var ms []greep.Member
	for i := range 300 {
		for j := range 8 {
			n := i*8 + j
			ms = append(ms, greep.Member{ID: fmt.Sprint(n), Email: fmt.Sprintf("m%d@example.com", n), Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"})
		}
		if err := s.ReplaceMembers(ctx, "g", ms, fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	var st bbolt.BucketStats
	if err := s.db.View(func(tx *bbolt.Tx) error {
		st = tx.Bucket(bChanges).Stats()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st.KeyN < 2400 {
		t.Fatalf("%d change records, want the 2,400 members added and the group's", st.KeyN)
	}
	fill := float64(st.LeafInuse) / float64(st.LeafAlloc)
	if fill < 0.85 {
		t.Errorf("the feed's leaf pages are %.0f%% full (%d pages), want at least 85%%", 100*fill, st.LeafPageN)
	}
}
