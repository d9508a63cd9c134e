package memory

import (
	"context"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// Commit implements greep.Committer: everything is checked before anything is applied,
// under one hold of the lock, so a failed commit leaves the store as it was.
func (s *Store) Commit(ctx context.Context, w *greep.Writes) error {
	if err := s.intercepted("Commit"); err != nil {
		return err
	}
	if w.Empty() {
		return nil
	}
	if err := cache.CheckWrites(w); err != nil {
		return err
	}
	members := make([][]greep.Member, len(w.Members))
	for i, m := range w.Members {
		ms, err := cache.NormalizeMembers(m.Members)
		if err != nil {
			return err
		}
		members[i] = ms
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	groups := make([]greep.Group, len(w.Members))
	encoded := make([][]byte, len(w.Members)) // nil: an older read, not written
	for i, m := range w.Members {
		b, ok := s.groups[m.GroupID]
		if !ok {
			return greep.Errorf(greep.ENOTFOUND, "group %s not found", m.GroupID)
		}
		g := &groups[i]
		if err := decode("group "+m.GroupID, b, g); err != nil {
			return err
		}
		if cache.OlderRead(*g, m.SyncedAt) {
			continue
		}
		g.MembersETag, g.MembersSyncedAt = m.ETag, m.SyncedAt
		var err error
		if encoded[i], err = encode("group "+m.GroupID, *g); err != nil {
			return err
		}
	}
	for i, m := range w.Members {
		if encoded[i] == nil {
			continue
		}
		changes := cache.MemberChanges(groups[i], s.members[m.GroupID], members[i], m.Cause)
		s.swapSnapshot(m.GroupID, members[i])
		s.groups[m.GroupID] = encoded[i]
		s.appendChanges(changes)
	}
	for _, m := range w.Marks {
		if _, ok := s.records[m.Kind][m.ID]; ok {
			continue
		}
		s.putRecord(m.Kind, m.ID, m.Data)
		if m.Counter != "" {
			s.counters[m.Counter] += m.Delta
		}
	}
	for _, c := range w.Counts {
		s.counters[c.Name] += c.Delta
	}
	for _, r := range w.Puts {
		s.putRecord(r.Kind, r.ID, r.Data)
	}
	for _, r := range w.Deletes {
		delete(s.records[r.Kind], r.ID)
	}
	return nil
}
