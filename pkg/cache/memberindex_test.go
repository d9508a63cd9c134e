package cache

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
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

// A member in many groups, added and removed in random order, some of each twice: the
// index lists exactly the groups that list it, as a set kept beside it says.
func TestMemberIndexManyGroupsOfOneMember(t *testing.T) {
	var x MemberIndex
	m := []greep.Member{{ID: "u", Email: "u@example.com"}}
	rnd := rand.New(rand.NewPCG(1, 2))
	want := map[string]bool{}
	for range 5000 {
		g := fmt.Sprintf("g%03d", rnd.IntN(400))
		if rnd.IntN(3) == 0 {
			x.Load(IndexDelta{Group: g, Removed: []string{"u", "u@example.com"}})
			delete(want, g)
		} else {
			x.Load(SnapshotDelta(g, nil, m))
			want[g] = true
		}
	}
	wantList := slices.Sorted(maps.Keys(want))
	if wantList == nil {
		wantList = []string{}
	}
	for _, key := range []string{"u", "U@Example.com"} {
		if got := x.Groups(key); !reflect.DeepEqual(got, wantList) {
			t.Fatalf("Groups(%q) lists %d groups, want %d: %v", key, len(got), len(wantList), got)
		}
	}
	if keys, entries := x.Size(); keys != 2 || entries != 2*len(want) {
		t.Errorf("size %d keys, %d entries; want 2 keys and %d entries", keys, entries, 2*len(want))
	}
}

// BenchmarkMemberIndexMemberOfManyGroups: a full sync adding one member (ID and email) to
// 3,000 groups, in the groups' random order.
func BenchmarkMemberIndexMemberOfManyGroups(b *testing.B) {
	m := []greep.Member{{ID: "u", Email: "u@example.com"}}
	rnd := rand.New(rand.NewPCG(1, 2))
	ds := make([]IndexDelta, 3000)
	for i := range ds {
		ds[i] = SnapshotDelta(fmt.Sprintf("0%014x", rnd.Uint64()>>8), nil, m)
	}
	b.ReportAllocs()
	for b.Loop() {
		var x MemberIndex
		for _, d := range ds {
			x.Load(d)
		}
	}
}

// BenchmarkMemberIndexOriginSync: a full sync of the origin's shape into the index, 45,000
// groups of 8 members drawn from 5,000 users, each group's delta applied as its commit
// applies it; then a read of every user's groups.
func BenchmarkMemberIndexOriginSync(b *testing.B) {
	const groups, users, per = 45000, 5000, 8
	rnd := rand.New(rand.NewPCG(1, 2))
	ds := make([]IndexDelta, groups)
	for i := range ds {
		ms := make([]greep.Member, per)
		for j := range ms {
			u := rnd.IntN(users)
			ms[j] = greep.Member{ID: fmt.Sprintf("1%020d", u), Email: fmt.Sprintf("user%d@example.com", u)}
		}
		ds[i] = SnapshotDelta(fmt.Sprintf("0%013x", rnd.Uint64()>>12), nil, ms)
	}
	b.ReportAllocs()
	for b.Loop() {
		var x MemberIndex
		for _, d := range ds {
			x.Load(d)
		}
		for u := range users {
			x.Groups(fmt.Sprintf("user%d@example.com", u))
		}
	}
}
