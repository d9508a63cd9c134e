package cache

import (
	"errors"
	"reflect"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

func TestMemberIndexFollowsSwaps(t *testing.T) {
	var x MemberIndex
	a := greep.Member{ID: "ua", Email: "A@Example.com"}
	b := greep.Member{ID: "ub", Email: "b@example.com"}
	ext := greep.Member{Email: "Out@Outside.example"} // no id: its email is its only key
	x.Load(SnapshotDelta("g1", nil, []greep.Member{a, b}), SnapshotDelta("g2", nil, []greep.Member{a, ext}))
	for key, want := range map[string][]string{
		"ua": {"g1", "g2"}, "a@example.com": {"g1", "g2"}, "A@EXAMPLE.COM": {"g1", "g2"},
		"ub": {"g1"}, "out@outside.example": {"g2"}, "nobody": {},
	} {
		if got := x.Groups(key); !reflect.DeepEqual(got, want) {
			t.Errorf("Groups(%q) = %v, want %v", key, got, want)
		}
	}
	// g1 drops a; g2 is deleted.
	d1 := SnapshotDelta("g1", []greep.Member{a, b}, []greep.Member{b})
	d2 := SnapshotDelta("g2", []greep.Member{a, ext}, nil)
	if err := x.Commit(func() error { return nil }, []IndexDelta{d1, d2}); err != nil {
		t.Fatal(err)
	}
	if got := x.Groups("ua"); len(got) != 0 {
		t.Errorf("Groups(ua) after the swaps = %v, want none", got)
	}
	if keys, entries := x.Size(); keys != 2 || entries != 2 {
		t.Errorf("size %d keys, %d entries: want ub and b@example.com in g1 only", keys, entries)
	}
	if d := SnapshotDelta("g1", []greep.Member{b}, []greep.Member{{ID: "ub", Email: "B@example.com"}}); !d.Empty() {
		t.Errorf("a list with the same keys changed the index: %+v", d)
	}
}

func TestMemberIndexFailedCommitChangesNothing(t *testing.T) {
	var x MemberIndex
	m := greep.Member{ID: "u", Email: "u@example.com"}
	err := x.Commit(func() error { return errors.New("disk full") }, []IndexDelta{SnapshotDelta("g", nil, []greep.Member{m})})
	if err == nil || len(x.Groups("u")) != 0 {
		t.Errorf("commit error %v, Groups(u) = %v: want the error and no change", err, x.Groups("u"))
	}
}

// TestMemberIndexReadersWaitForTheCommit: a reader asking while a commit runs gets the
// index as that commit leaves it, never as it was before.
func TestMemberIndexReadersWaitForTheCommit(t *testing.T) {
	var x MemberIndex
	m := greep.Member{ID: "u", Email: "u@example.com"}
	answered := make(chan []string)
	err := x.Commit(func() error {
		go func() { answered <- x.Groups("u") }()
		// Give the reader every chance to run first: it must block on the lock.
		for range 1000 {
			select {
			case got := <-answered:
				t.Errorf("a reader answered %v during the commit", got)
				return nil
			default:
			}
		}
		return nil
	}, []IndexDelta{SnapshotDelta("g", nil, []greep.Member{m})})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-answered; !reflect.DeepEqual(got, []string{"g"}) {
		t.Errorf("the reader got %v, want [g]", got)
	}
}
