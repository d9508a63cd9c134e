package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// PutGroups implements greep.GroupStore. A batch with one bad group stores none.
func (s *Store) PutGroups(ctx context.Context, groups []greep.Group) error {
	if err := s.intercepted("PutGroups"); err != nil {
		return err
	}
	for _, g := range groups {
		if err := cache.CheckGroup(g); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cause := greep.CauseOf(ctx)
	encoded := make([][]byte, len(groups))
	olds := make([]*greep.Group, len(groups))
	for i, g := range groups {
		if b, ok := s.groups[g.ID]; ok {
			var old greep.Group
			if err := decode("group "+g.ID, b, &old); err != nil {
				return err
			}
			g.MembersSyncedAt, g.MembersETag = old.MembersSyncedAt, old.MembersETag
			olds[i] = &old
		}
		b, err := encode("group "+g.ID, g)
		if err != nil {
			return err
		}
		encoded[i] = b
	}
	var changes []greep.Change
	for i, g := range groups {
		if ch, ok := cache.GroupChange(olds[i], g, cause); ok {
			changes = append(changes, ch)
		}
		if olds[i] != nil {
			s.unindexGroup(*olds[i])
		}
		s.groups[g.ID] = encoded[i]
		add(s.byEmail, cache.FoldEmail(g.Email), g.ID)
		for _, a := range g.AllAliases() {
			add(s.byAlias, cache.FoldEmail(a), g.ID)
		}
	}
	s.appendChanges(changes)
	return nil
}

func (s *Store) unindexGroup(g greep.Group) {
	remove(s.byEmail, cache.FoldEmail(g.Email), g.ID)
	for _, a := range g.AllAliases() {
		remove(s.byAlias, cache.FoldEmail(a), g.ID)
	}
}

// Group implements greep.GroupStore.
func (s *Store) Group(ctx context.Context, k string) (greep.Group, error) {
	if err := s.intercepted("Group"); err != nil {
		return greep.Group{}, err
	}
	if err := cache.CheckKey("group key", k); err != nil {
		return greep.Group{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id := k
	if _, ok := s.groups[id]; !ok {
		var found bool
		if id, found = first(s.byEmail, cache.FoldEmail(k)); !found {
			id, _ = first(s.byAlias, cache.FoldEmail(k))
		}
	}
	b, ok := s.groups[id]
	if !ok {
		return greep.Group{}, greep.Errorf(greep.ENOTFOUND, "group %s not found", k)
	}
	var g greep.Group
	return g, decode("group "+id, b, &g)
}

// Groups implements greep.GroupStore.
func (s *Store) Groups(ctx context.Context, p greep.Page) ([]greep.Group, string, error) {
	if err := s.intercepted("Groups"); err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var keys []string
	for email, ids := range s.byEmail {
		for id := range ids {
			keys = append(keys, key(email, id))
		}
	}
	sel, next, err := page(keys, "", p.Token, cache.PageSize(p))
	if err != nil {
		return nil, "", err
	}
	out := make([]greep.Group, 0, len(sel))
	for _, k := range sel {
		_, id, _ := strings.Cut(k, "\x00")
		var g greep.Group
		if err := decode("group "+id, s.groups[id], &g); err != nil {
			return nil, "", err
		}
		out = append(out, g)
	}
	return out, next, nil
}

// DeleteGroup implements greep.GroupStore.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	if err := s.intercepted("DeleteGroup"); err != nil {
		return err
	}
	if err := cache.CheckKey("group id", id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.groups[id]
	if !ok {
		return nil
	}
	var g greep.Group
	if err := decode("group "+id, b, &g); err != nil {
		return err
	}
	s.unindexGroup(g)
	s.swapSnapshot(id, nil)
	delete(s.settings, cache.FoldEmail(g.Email))
	delete(s.groups, id)
	s.appendChanges([]greep.Change{cache.GroupDeleted(g, greep.CauseOf(ctx))})
	return nil
}

// ReplaceMembers implements greep.GroupStore. The group must exist (ENOTFOUND if not).
func (s *Store) ReplaceMembers(ctx context.Context, groupID string, members []greep.Member, etag string, syncedAt time.Time) error {
	if err := s.intercepted("ReplaceMembers"); err != nil {
		return err
	}
	return s.replace(ctx, groupID, nil, members, etag, syncedAt)
}

// ReplaceMembersFrom implements greep.GroupStore.
func (s *Store) ReplaceMembersFrom(ctx context.Context, groupID string, from greep.MembersVersion, members []greep.Member, etag string, syncedAt time.Time) error {
	if err := s.intercepted("ReplaceMembersFrom"); err != nil {
		return err
	}
	return s.replace(ctx, groupID, &from, members, etag, syncedAt)
}

func (s *Store) replace(ctx context.Context, groupID string, from *greep.MembersVersion, members []greep.Member, etag string, syncedAt time.Time) error {
	if err := cache.CheckKey("group id", groupID); err != nil {
		return err
	}
	ms, err := cache.NormalizeMembers(members)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.groups[groupID]
	if !ok {
		return greep.Errorf(greep.ENOTFOUND, "group %s not found", groupID)
	}
	var g greep.Group
	if err := decode("group "+groupID, b, &g); err != nil {
		return err
	}
	if from != nil && !from.Is(g.MembersVersion()) {
		return greep.Errorf(greep.ECONFLICT, "members of group %s were replaced since they were read", groupID)
	}
	if cache.OlderRead(g, syncedAt) {
		return nil
	}
	g.MembersETag, g.MembersSyncedAt = etag, syncedAt
	if b, err = encode("group "+groupID, g); err != nil {
		return err
	}
	changes := cache.MemberChanges(g, s.members[groupID], ms, greep.CauseOf(ctx))
	s.swapSnapshot(groupID, ms)
	s.groups[groupID] = b
	s.appendChanges(changes)
	return nil
}

// swapSnapshot replaces a group's snapshot (removing it when ms is nil) and its
// reverse-index entries. Called with mu held for writing, which MemberOf's readers wait
// on: the index changes with the snapshot.
func (s *Store) swapSnapshot(groupID string, ms []greep.Member) {
	s.memberOf.Load(cache.SnapshotDelta(groupID, s.members[groupID], ms))
	if ms == nil {
		delete(s.members, groupID)
		return
	}
	s.members[groupID] = ms
}

// Members implements greep.GroupStore.
func (s *Store) Members(ctx context.Context, groupID string) ([]greep.Member, error) {
	if err := s.intercepted("Members"); err != nil {
		return nil, err
	}
	if err := cache.CheckKey("group id", groupID); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.groups[groupID]; !ok {
		return nil, greep.Errorf(greep.ENOTFOUND, "group %s not found", groupID)
	}
	out := slices.Clone(s.members[groupID])
	if out == nil {
		out = []greep.Member{}
	}
	return out, nil
}

// MemberOf implements greep.GroupStore.
func (s *Store) MemberOf(ctx context.Context, memberKey string) ([]string, error) {
	if err := s.intercepted("MemberOf"); err != nil {
		return nil, err
	}
	if err := cache.CheckKey("member key", memberKey); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.memberOf.Groups(memberKey), nil
}
