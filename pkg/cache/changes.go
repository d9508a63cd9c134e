package cache

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// Both stores describe a write the same way, so the feed reads the same on either: these
// build the records (without cursor, which the store assigns in its transaction), and
// the stores only number and keep them.

// MemberChanges returns the records that turn old into new (both normalised lists of
// group g): removals, then additions and field changes, each in member order. A member
// whose role and status both changed gets one record per field. A member without an id on
// one side (a provisional add of an outside address) is the same member as the one with
// its email on the other, and so is a member whose provisional change c confirms. c.Members gives members their own cause; one whose provisional
// change c confirms gets one ChangeConfirmed record instead of field changes.
func MemberChanges(g greep.Group, old, new []greep.Member, c greep.ChangeCause) []greep.Change {
	before := make(map[string]int, len(old))
	byEmail := make(map[string]int, len(old))
	for i, m := range old {
		before[MemberIdentity(m)] = i
		if m.Email != "" {
			byEmail[FoldEmail(m.Email)] = i
		}
	}
	var out []greep.Change
	recorded := map[string]bool{}
	rec := func(kind string, b, a *greep.Member) {
		m := a
		if m == nil {
			m = b
		}
		ch := greep.Change{Time: c.At, GroupID: g.ID, Group: g.Email, Member: memberName(*m), Kind: kind, ChangeCause: c}
		ch.Members = nil
		if mc, ok := c.Members[FoldEmail(m.Email)]; ok {
			ch.Actor, ch.ActivityID, ch.Reverted = mc.Actor, mc.ActivityID, mc.Reverted
			recorded[FoldEmail(m.Email)] = true
		}
		if b != nil {
			ch.Before = greep.MemberValue(*b)
		}
		if a != nil {
			ch.After = greep.MemberValue(*a)
		}
		out = append(out, ch)
	}
	matched := make([]int, len(new)) // index in old + 1; 0: none
	taken := make(map[int]bool, len(new))
	for k, m := range new {
		i, ok := before[MemberIdentity(m)]
		if !ok && m.Email != "" {
			i, ok = byEmail[FoldEmail(m.Email)]
			ok = ok && (m.ID == "" || old[i].ID == "" || c.Members[FoldEmail(m.Email)].Confirmed)
		}
		if ok && !taken[i] {
			taken[i], matched[k] = true, i+1
		}
	}
	for i := range old {
		if !taken[i] {
			rec(greep.ChangeRemoved, &old[i], nil)
		}
	}
	for k := range new {
		m := &new[k]
		if matched[k] == 0 {
			rec(greep.ChangeAdded, nil, m)
			continue
		}
		b := old[matched[k]-1]
		if mc := c.Members[FoldEmail(m.Email)]; mc.Confirmed {
			rec(greep.ChangeConfirmed, &b, m)
			continue
		}
		for _, f := range [...]struct {
			kind     string
			was, now string
		}{
			{greep.ChangeEmailChanged, FoldEmail(b.Email), FoldEmail(m.Email)},
			{greep.ChangeRoleChanged, b.Role, m.Role},
			{greep.ChangeTypeChanged, b.Type, m.Type},
			{greep.ChangeStatusChanged, b.Status, m.Status},
		} {
			if f.was != f.now {
				rec(f.kind, &b, m)
			}
		}
	}
	// A confirmed removal: the member is in neither list.
	for _, email := range slices.Sorted(maps.Keys(c.Members)) {
		if mc := c.Members[email]; mc.Confirmed && !recorded[email] {
			ch := greep.Change{Time: c.At, GroupID: g.ID, Group: g.Email, Member: email, Kind: greep.ChangeConfirmed, ChangeCause: c}
			ch.Members, ch.Actor, ch.ActivityID = nil, mc.Actor, mc.ActivityID
			out = append(out, ch)
		}
	}
	return out
}

func memberName(m greep.Member) string {
	if m.Email != "" {
		return m.Email
	}
	return m.ID
}

// GroupChange returns the record of storing g over old (nil: there was none): created,
// renamed (its email or name changed), or nothing.
func GroupChange(old *greep.Group, g greep.Group, c greep.ChangeCause) (greep.Change, bool) {
	ch := greep.Change{Time: c.At, GroupID: g.ID, Group: g.Email, After: greep.GroupValue(g), ChangeCause: c}
	switch {
	case old == nil:
		ch.Kind = greep.ChangeGroupCreated
	case FoldEmail(old.Email) != FoldEmail(g.Email) || old.Name != g.Name:
		ch.Kind, ch.Before = greep.ChangeGroupRenamed, greep.GroupValue(*old)
	default:
		return greep.Change{}, false
	}
	return ch, true
}

// GroupDeleted returns the record of removing g.
func GroupDeleted(g greep.Group, c greep.ChangeCause) greep.Change {
	return greep.Change{Time: c.At, GroupID: g.ID, Group: g.Email, Kind: greep.ChangeGroupDeleted, Before: greep.GroupValue(g), ChangeCause: c}
}

// Number gives changes the cursors after head, in order, and returns the new head.
func Number(changes []greep.Change, head uint64) uint64 {
	for i := range changes {
		head++
		changes[i].Cursor = head
	}
	return head
}

// MatchesGroup reports whether c belongs to the group a ChangeQuery names (by id or
// email; an empty name matches every group).
func MatchesGroup(c greep.Change, group string) bool {
	return group == "" || c.GroupID == group || strings.EqualFold(c.Group, group)
}

// CheckSince refuses a cursor the feed cannot answer from: one past its head (from
// another tenant's store, or made up) is EINVALID; one inside the pruned part is EGONE,
// and the reader must list again.
func CheckSince(since uint64, log greep.ChangeLog) error {
	switch {
	case since > log.Head:
		return greep.Errorf(greep.EINVALID, "cursor %d is ahead of the change feed (its last record is %d)", since, log.Head)
	case since < log.Pruned:
		return greep.Errorf(greep.EGONE, "cursor %d is older than the change feed's retention (records up to %d were pruned): list again and follow from the list's cursor", since, log.Pruned)
	}
	return nil
}

// ScanFactor bounds the records a filtered ChangeQuery reads: Limit × ScanFactor. A
// reader following one quiet group moves through the feed a page at a time rather than
// making one request read the whole feed.
const ScanFactor = 10

// Signal is the broadcast behind greep.ChangeStore.ChangeSignal: Wait returns a channel
// that Notify closes.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns the channel the next Notify closes.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every waiter.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
