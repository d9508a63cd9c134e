package api

import (
	"context"
	"errors"
	"hash/fnv"
	"time"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/graph"
	"github.com/greephq/greep/pkg/greep"
)

// nesting is which member list a members request pages through.
type nesting byte

const (
	// directMembers is the group's own snapshot.
	directMembers nesting = iota
	// derivedMembers is Directory's includeDerivedMembership and hasMember: every member
	// reachable through nested groups, the nested groups included, each once (the first
	// membership met breadth first wins, so the group's own roles take precedence).
	derivedMembers
	// transitiveUsers is /v1's transitive=true: the non-group members reachable, each
	// once, as pkg/graph expands them.
	transitiveUsers
)

// cacheKey names an expansion of the group with this id in the snapshot cache, beside the
// groups' own snapshots (kept by id).
func (n nesting) cacheKey(groupID string) string {
	if n == derivedMembers {
		return "derived/" + groupID
	}
	return "transitive/" + groupID
}

// expansion is a member list with the time its data was synced.
type expansion struct {
	snap *snapshot
	// syncedAt is the oldest member snapshot the expansion read: the answer is at least
	// that fresh.
	syncedAt time.Time
}

// readGroup is one group an expansion read, with its member snapshot.
type readGroup struct {
	g     greep.Group
	snap  *snapshot
	depth int
}

// walkNesting reads the groups nested in root, breadth first and each once (so nesting
// cycles end), through the snapshot cache, and returns them in visiting order, root first.
// A nested group the principal may not read is not descended into: its members are not
// the principal's to see, even through a group it may read. A nested group the cache does
// not hold (another domain's) has no members to add.
func (s *server) walkNesting(ctx context.Context, root greep.Group, p *auth.Principal) ([]readGroup, error) {
	seen := map[string]bool{root.ID: true}
	queue := []readGroup{{g: root}}
	var out []readGroup
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		snap, err := s.snaps.get(ctx, v.g)
		if err != nil {
			return nil, err
		}
		v.snap = snap
		out = append(out, v)
		for _, m := range snap.groups {
			if m.ID == "" || seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			g, err := s.lookupGroup(ctx, m.ID)
			if errors.Is(err, greep.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if !p.CanSeeGroup(g.Email) {
				continue
			}
			queue = append(queue, readGroup{g: g, depth: v.depth + 1})
		}
	}
	return out, nil
}

// expand returns g's derived or transitive members as the request's principal may see
// them. The walk that finds the nested groups and their snapshot versions is cheap (a
// cache lookup per group); the merge, sort and render are not, so their result is kept
// under the composite version of every group read (the same groups at the same versions
// expand the same way) and computed at most once per version, under the gate.
//
// The walk itself, a lookup per nested group, is skipped for AnswerTTL while g's own
// snapshot is unchanged: as for group metadata, a nested group's change may take that
// long to show, a change to g's own members shows at once.
func (s *server) expand(ctx context.Context, g greep.Group, kind nesting) (expansion, error) {
	p := principalFrom(ctx)
	key := kind.cacheKey(g.ID)
	// Clients limited to some groups read other expansions of the same group; a key of
	// their own keeps them from evicting each other's (the version alone would keep the
	// answers right).
	if p != nil && !p.AllGroups() {
		key += "/" + p.Client
	}
	rootVersion := snapshotVersion(g)
	if w, ok := s.walks.get(key); ok && w.rootVersion == rootVersion {
		return w.x, nil
	}
	read, err := s.walkNesting(ctx, g, p)
	if err != nil {
		return expansion{}, err
	}
	h := fnv.New64a()
	h.Write([]byte{byte(kind)})
	oldest := g.MembersSyncedAt
	for _, v := range read {
		h.Write([]byte(v.g.ID))
		h.Write([]byte{0})
		h.Write([]byte(v.snap.version))
		h.Write([]byte{0})
		if v.g.MembersSyncedAt.Before(oldest) {
			oldest = v.g.MembersSyncedAt
		}
	}
	version := string(h.Sum(nil))
	if cached := s.snaps.peek(key); cached != nil && cached.version == version {
		x := expansion{cached, oldest}
		s.walks.put(key, walked{rootVersion, x})
		return x, nil
	}
	snap, err := s.gate.do(ctx, key+"\x00"+version, func() (*snapshot, error) {
		ms, err := merge(kind, read)
		if err != nil {
			return nil, err
		}
		snap := newSnapshot(version, ms)
		s.snaps.put(key, snap)
		return snap, nil
	})
	if err != nil {
		return expansion{}, err
	}
	x := expansion{snap, oldest}
	s.walks.put(key, walked{rootVersion, x})
	return x, nil
}

// walked is an expansion found current for the root snapshot version it was made from.
type walked struct {
	rootVersion string
	x           expansion
}

// merge combines the member lists walkNesting read, without I/O.
func merge(kind nesting, read []readGroup) ([]greep.Member, error) {
	if kind == transitiveUsers {
		byID := make(map[string][]greep.Member, len(read))
		for _, v := range read {
			byID[v.g.ID] = v.snap.members
		}
		// Groups the walk left out (not readable, not held) are unknown to the merge,
		// which pkg/graph skips.
		return graph.Members(context.Background(), read[0].g.ID, func(_ context.Context, id string) ([]greep.Member, error) {
			ms, ok := byID[id]
			if !ok {
				return nil, greep.ErrNotFound
			}
			return ms, nil
		})
	}
	seen := map[string]bool{}
	var members []greep.Member
	for _, v := range read {
		for _, m := range v.snap.members {
			key := m.ID
			if key == "" {
				key = m.Email
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			members = append(members, m)
		}
	}
	return members, nil
}

// groupsOf returns the ids of the groups memberKey belongs to, directly or (transitive)
// through nested groups, without the member itself. For a principal limited to some
// groups the climb goes on only through groups it may read, as expansions descend only
// into them: a membership held through a group it may not read is not its to see.
func (s *server) groupsOf(ctx context.Context, memberKey string, transitive bool) ([]string, error) {
	if !transitive {
		return s.store.MemberOf(ctx, memberKey)
	}
	p := principalFrom(ctx)
	if p.AllGroups() {
		return graph.Ancestors(ctx, memberKey, s.store.MemberOf)
	}
	return graph.Ancestors(ctx, memberKey, func(ctx context.Context, key string) ([]string, error) {
		if key != memberKey {
			g, err := s.lookupGroup(ctx, key)
			if errors.Is(err, greep.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			if !p.CanSeeGroup(g.Email) {
				return nil, nil
			}
		}
		return s.store.MemberOf(ctx, key)
	})
}

// memberSnapshot is the member list a members request pages through, with the time the
// answer's data was synced.
func (s *server) memberSnapshot(ctx context.Context, g greep.Group, kind nesting) (*snapshot, time.Time, error) {
	if kind != directMembers {
		x, err := s.expand(ctx, g, kind)
		if err != nil {
			return nil, time.Time{}, err
		}
		return x.snap, x.syncedAt, nil
	}
	snap, err := s.snaps.get(ctx, g)
	return snap, g.MembersSyncedAt, err
}
