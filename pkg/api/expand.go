package api

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/graph"
	"github.com/greephq/greep/pkg/greep"
)

// walk visits the nodes reachable from start through next, each once, breadth first, and
// returns them in visiting order (start included). Nesting cycles end because a visited
// node is never expanded again.
func walk(start []string, next func(id string) ([]string, error)) ([]string, error) {
	seen := make(map[string]bool, len(start))
	var order []string
	queue := make([]string, 0, len(start))
	for _, id := range start {
		if !seen[id] {
			seen[id] = true
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		order = append(order, id)
		ns, err := next(id)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return order, nil
}

// expansion is a group's membership through nested groups.
type expansion struct {
	snap *snapshot
	// syncedAt is the oldest member snapshot the expansion read: the answer is at least
	// that fresh.
	syncedAt time.Time
}

// expand returns every member reachable from g through nested groups, the nested groups
// included, each once (the first membership met, breadth first, wins, so g's own roles
// take precedence): Directory's includeDerivedMembership and hasMember. (pkg/graph's
// expansion leaves the nested groups out, as /v1's transitive=true wants.) The result is
// cached under the versions of every group it read, so a job polling a big nested group
// does not pay the merge each time.
func (s *server) expand(ctx context.Context, g greep.Group) (expansion, error) {
	type visit struct {
		g    greep.Group
		snap *snapshot
	}
	byID := map[string]visit{}
	order, err := walk([]string{g.ID}, func(id string) ([]string, error) {
		gg := g
		if id != g.ID {
			var err error
			gg, err = s.lookupGroup(ctx, id)
			if errors.Is(err, greep.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
		}
		snap, err := s.snaps.get(ctx, gg)
		if err != nil {
			return nil, err
		}
		byID[id] = visit{gg, snap}
		var next []string
		for _, m := range snap.members {
			if m.Type == greep.TypeGroup && m.ID != "" {
				next = append(next, m.ID)
			}
		}
		return next, nil
	})
	if err != nil {
		return expansion{}, err
	}

	// The composite version: the same groups at the same versions expand the same way.
	h := fnv.New64a()
	oldest := g.MembersSyncedAt
	for _, id := range order {
		v, ok := byID[id]
		if !ok {
			continue
		}
		h.Write([]byte(id))
		h.Write([]byte{0})
		h.Write([]byte(v.snap.version))
		h.Write([]byte{0})
		if v.g.MembersSyncedAt.Before(oldest) {
			oldest = v.g.MembersSyncedAt
		}
	}
	version := string(h.Sum(nil))
	cacheKey := "derived/" + g.ID
	if cached := s.snaps.peek(cacheKey); cached != nil && cached.version == version {
		return expansion{cached, oldest}, nil
	}

	seen := map[string]bool{}
	var members []greep.Member
	for _, id := range order {
		v, ok := byID[id]
		if !ok {
			continue
		}
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
	snap := newSnapshot(version, members)
	s.snaps.put(cacheKey, snap)
	return expansion{snap, oldest}, nil
}

// groupsOf returns the ids of the groups memberKey belongs to, directly or (transitive)
// through nested groups, without the member itself.
func (s *server) groupsOf(ctx context.Context, memberKey string, transitive bool) ([]string, error) {
	if !transitive {
		return s.store.MemberOf(ctx, memberKey)
	}
	return graph.Ancestors(ctx, memberKey, s.store.MemberOf)
}

// users returns the users (and other non-group members) reachable from g through nested
// groups, each once, as pkg/graph expands them, reading member lists through the
// snapshot cache. syncedAt is the oldest snapshot read.
func (s *server) users(ctx context.Context, g greep.Group) (expansion, error) {
	var mu sync.Mutex
	oldest := g.MembersSyncedAt
	ms, err := graph.Members(ctx, g.ID, func(ctx context.Context, id string) ([]greep.Member, error) {
		gg := g
		if id != g.ID {
			var err error
			if gg, err = s.lookupGroup(ctx, id); err != nil {
				return nil, err
			}
		}
		snap, err := s.snaps.get(ctx, gg)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		if gg.MembersSyncedAt.Before(oldest) {
			oldest = gg.MembersSyncedAt
		}
		mu.Unlock()
		return snap.members, nil
	})
	if err != nil {
		return expansion{}, err
	}
	return expansion{newSnapshot("", ms), oldest}, nil
}

// memberSnapshot is the member list a members request pages through: the group's own
// snapshot, or, with nested set, the expansion it computes (derived or transitive members),
// with the time the answer's data was synced.
func (s *server) memberSnapshot(ctx context.Context, g greep.Group, nested func(context.Context, greep.Group) (expansion, error)) (*snapshot, time.Time, error) {
	if nested != nil {
		x, err := nested(ctx, g)
		if err != nil {
			return nil, time.Time{}, err
		}
		return x.snap, x.syncedAt, nil
	}
	snap, err := s.snaps.get(ctx, g)
	return snap, g.MembersSyncedAt, err
}
