package cache

import (
	"slices"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// MemberIndex is the reverse index of the member snapshots (a member's ID or folded
// email → the groups listing it), held in memory: by the embedded store, which rebuilds
// it from its snapshots when it opens, and by the memory store. Stored, it cost the embedded store a third of its CPU per
// Directory call: a group of eight members put sixteen keys on about sixteen random pages
// of one tree, and bbolt rewrote each page at every commit (docs/benchmarks.md).
//
// A store computes a swap's IndexDelta inside its write transaction and hands the
// transaction's deltas to Commit, which applies them under the index's lock held across
// the store's commit: a reader that saw the commit's effects elsewhere (the feed's head,
// a group's version) and then asks the index waits for the deltas, never answering from
// the index as it was before a commit it already saw.
type MemberIndex struct {
	mu sync.RWMutex
	// member key -> the handles of the groups listing it, ascending: adding and removing
	// a group finds it by binary search, where a scan made a sync quadratic in the
	// groups a member is in (a member of 1,000 groups cost 500,000 comparisons). A
	// handle is four bytes with no pointer, where a group id was a string: the search
	// compares integers in one array instead of chasing every id it passes, and the
	// collector has nothing to scan in the lists.
	groups map[string][]uint32
	// ids gives a group id its handle and names a handle its id. A deleted group's
	// stays until the process restarts: a few bytes per group ever seen.
	ids   map[string]uint32
	names []string
}

// IndexDelta is what one snapshot swap changes in the index.
type IndexDelta struct {
	Group          string
	Added, Removed []string // member keys
}

// SnapshotDelta is the change to the index when group's list goes from old to new (either
// may be nil); it is empty when their keys are the same.
func SnapshotDelta(group string, old, new []greep.Member) IndexDelta {
	d := IndexDelta{Group: group}
	oldKeys := memberKeySet(old)
	newKeys := memberKeySet(new)
	for k := range oldKeys {
		if !newKeys[k] {
			d.Removed = append(d.Removed, k)
		}
	}
	for k := range newKeys {
		if !oldKeys[k] {
			d.Added = append(d.Added, k)
		}
	}
	return d
}

func memberKeySet(ms []greep.Member) map[string]bool {
	set := make(map[string]bool, 2*len(ms))
	for _, m := range ms {
		for _, k := range MemberKeys(m) {
			set[k] = true
		}
	}
	return set
}

// Empty reports whether the delta changes nothing.
func (d IndexDelta) Empty() bool { return len(d.Added) == 0 && len(d.Removed) == 0 }

// Commit runs commit with the index locked and, if it succeeds, applies ds: readers
// wait for the commit and its deltas together. Without deltas it only runs commit.
func (x *MemberIndex) Commit(commit func() error, ds []IndexDelta) error {
	if len(ds) == 0 {
		return commit()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := commit(); err != nil {
		return err
	}
	x.apply(ds)
	return nil
}

// Load applies ds outside any commit: for the rebuild when a store opens, before it
// serves, and for a store whose own lock already orders its readers after its writes
// (the memory store).
func (x *MemberIndex) Load(ds ...IndexDelta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.apply(ds)
}

func (x *MemberIndex) apply(ds []IndexDelta) {
	if x.groups == nil {
		x.groups, x.ids = map[string][]uint32{}, map[string]uint32{}
	}
	for _, d := range ds {
		h, ok := x.ids[d.Group]
		if !ok {
			h = uint32(len(x.names))
			x.names = append(x.names, d.Group)
			x.ids[d.Group] = h
		}
		for _, k := range d.Removed {
			gs := x.groups[k]
			if i, found := slices.BinarySearch(gs, h); found {
				gs = slices.Delete(gs, i, i+1)
			}
			if len(gs) == 0 {
				delete(x.groups, k)
			} else {
				x.groups[k] = gs
			}
		}
		for _, k := range d.Added {
			gs := x.groups[k]
			if i, found := slices.BinarySearch(gs, h); !found {
				x.groups[k] = slices.Insert(gs, i, h)
			}
		}
	}
}

// Groups is greep.GroupStore's MemberOf: the ids of the groups listing memberKey (an ID,
// or an email in any case), sorted; empty, not nil, when none do.
func (x *MemberIndex) Groups(memberKey string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := []string{}
	for _, k := range slices.Compact([]string{memberKey, FoldEmail(memberKey)}) {
		for _, h := range x.groups[k] {
			out = append(out, x.names[h])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Size is how many member keys and memberships (key and group pairs) the index holds.
func (x *MemberIndex) Size() (keys, entries int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, gs := range x.groups {
		entries += len(gs)
	}
	return len(x.groups), entries
}
