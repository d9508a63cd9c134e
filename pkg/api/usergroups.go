package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/greephq/greep/pkg/greep"
)

// A user's groups (/v1/users/{key}/groups) are kept rendered by version, like member
// pages: an answer is made from the store at the change feed's head, and served again
// while no change since touches it, that is while no change record names the user, or one
// of the groups in the answer as the group changed or as the member added, removed or
// changed (a group joining or leaving the user's ancestry is always such a change). A
// request costs a read of the feed's head; when the head moved, a read of the records
// since. Every other change, anywhere in the tenant, leaves the answer served.
//
// What the feed does not record is a group read again unchanged: its syncedAt moves on.
// An answer is remade after userGroupsRefresh so that its syncedAt follows; until then it
// shows an older syncedAt, which is still true (the data was at least that fresh).
const userGroupsRefresh = time.Minute

// userGroupsRecheck is how many change records a request reads to decide whether an
// answer is still current; after more changes than that it is remade.
const userGroupsRecheck = 256

// DefaultCacheUserGroups is Config.CacheUserGroups' default: bytes of rendered answers.
const DefaultCacheUserGroups = 32 << 20

// userAnswer is one user's rendered groups and what they depend on.
type userAnswer struct {
	body     []byte
	syncedAt time.Time
	kept     *keptPage // the answer prepared for writing (body and headers)
	made     time.Time
	// head is the feed's cursor up to which the answer is known current; it moves forward
	// as requests find the records since it touch nothing of the answer.
	head atomic.Uint64
	// touches are the ids and emails (lower case) of the user and of the groups in the
	// answer.
	touches map[string]bool
}

func (a *userAnswer) size() int { return len(a.body) + 64*len(a.touches) + 128 }

// touchedBy tells whether c may change the answer.
func (a *userAnswer) touchedBy(c greep.Change) bool {
	if a.touches[c.GroupID] || a.touches[strings.ToLower(c.Group)] || a.touches[strings.ToLower(c.Member)] {
		return true
	}
	for _, v := range [...]*greep.ChangeValue{c.Before, c.After} {
		if v != nil && (a.touches[v.ID] || a.touches[strings.ToLower(v.Email)]) {
			return true
		}
	}
	return false
}

// userAnswers keeps users' answers up to a budget of bytes, evicting arbitrary entries
// (a miss costs one answer's computation) to make room.
type userAnswers struct {
	budget  int
	flights singleflight.Group

	mu   sync.Mutex
	m    map[string]*userAnswer
	used int
}

func newUserAnswers(budget int) *userAnswers {
	return &userAnswers{budget: budget, m: map[string]*userAnswer{}}
}

func (c *userAnswers) get(key string) *userAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *userAnswers) put(key string, a *userAnswer) {
	n := a.size()
	if n > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.used -= old.size()
		delete(c.m, key)
	}
	for k, old := range c.m {
		if c.used+n <= c.budget {
			break
		}
		delete(c.m, k)
		c.used -= old.size()
	}
	c.m[key] = a
	c.used += n
}

// current tells whether a may still be served.
func (s *server) current(ctx context.Context, a *userAnswer) (bool, error) {
	if s.head == nil {
		// No feed, no version: the answer is kept for AnswerTTL, as group metadata is.
		return s.now().Sub(a.made) < s.answerTTL, nil
	}
	if s.now().Sub(a.made) >= userGroupsRefresh {
		return false, nil
	}
	l, err := s.head.get(ctx)
	if err != nil {
		return false, err
	}
	head := a.head.Load()
	if l.Head == head {
		return true, nil
	}
	if l.Head < head || l.Pruned > head {
		return false, nil
	}
	changes, next, err := s.feed.Changes(ctx, greep.ChangeQuery{Since: head, Limit: userGroupsRecheck})
	if err != nil {
		if greep.ErrorCode(err) == greep.EGONE {
			return false, nil
		}
		return false, err
	}
	for _, c := range changes {
		if a.touchedBy(c) {
			return false, nil
		}
	}
	if next < l.Head {
		return false, nil // more changes than a request reads: remake the answer
	}
	a.head.CompareAndSwap(head, next)
	return true, nil
}

// GET /v1/users/{userKey}/groups
func (s *server) v1UserGroups(w http.ResponseWriter, r *http.Request) {
	q := s.queries.of(r)
	key := pathParam(r, "userKey")
	if err := checkKey("userKey", key); err != nil {
		s.writeError(w, r, err)
		return
	}
	transitive, err := boolParam(q, "transitive")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.users == nil {
		a, err := s.userGroups(r.Context(), key, transitive)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		a.kept.serve(w, r, "", a.syncedAt)
		return
	}
	// The principal is part of the key: clients limited to some groups see fewer.
	cacheKey := principalFrom(r.Context()).Client + "\x00" + strings.ToLower(key)
	if transitive {
		cacheKey += "\x00t"
	}
	if a := s.users.get(cacheKey); a != nil {
		ok, err := s.current(r.Context(), a)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if ok {
			a.kept.serve(w, r, "", a.syncedAt)
			return
		}
	}
	// Requests for the same answer share one computation: when an answer goes out of
	// date under load, one request remakes it and the others wait for it.
	ctx := r.Context()
	ch := s.users.flights.DoChan(cacheKey, func() (any, error) {
		a, err := s.userGroups(context.WithoutCancel(ctx), key, transitive)
		if err != nil {
			return nil, err
		}
		s.users.put(cacheKey, a)
		return a, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			s.writeError(w, r, res.Err)
			return
		}
		a := res.Val.(*userAnswer)
		a.kept.serve(w, r, "", a.syncedAt)
	case <-ctx.Done():
		s.writeError(w, r, ctx.Err())
	}
}

// userGroups makes the answer for the user key names from the store: its groups read
// after the feed's head, so that every change up to the head is in the answer.
func (s *server) userGroups(ctx context.Context, key string, transitive bool) (*userAnswer, error) {
	a := &userAnswer{made: s.now(), touches: map[string]bool{}}
	if s.head != nil {
		l, err := s.head.get(ctx)
		if err != nil {
			return nil, err
		}
		a.head.Store(l.Head)
	}
	ref, err := s.resolveMember(ctx, key)
	if err != nil {
		return nil, err
	}
	groups, err := s.memberGroups(ctx, ref, transitive, s.store.Group)
	if err != nil {
		return nil, err
	}
	for _, k := range [...]string{ref.id, strings.ToLower(ref.email), strings.ToLower(key)} {
		if k != "" {
			a.touches[k] = true
		}
	}
	b := append(make([]byte, 0, 128*len(groups)+64), `{"groups":[`...)
	var oldest time.Time
	for i, g := range groups {
		if i > 0 {
			b = append(b, ',')
		}
		role, err := s.roleIn(ctx, g, ref)
		if err != nil {
			return nil, err
		}
		b = appendV1GroupSummary(b, g, role)
		if oldest.IsZero() || g.MembersSyncedAt.Before(oldest) {
			oldest = g.MembersSyncedAt
		}
		a.touches[g.ID] = true
		a.touches[strings.ToLower(g.Email)] = true
	}
	if oldest.IsZero() {
		oldest = s.cacheSyncedAt(ctx)
	}
	a.body = appendTail(b, "", "", oldest)
	a.syncedAt = oldest
	a.kept = newKeptPage(a.body, "", false, "", oldest)
	return a, nil
}

// memberGroups returns the groups ref belongs to that the principal may see, by email,
// each read through lookup.
func (s *server) memberGroups(ctx context.Context, ref memberRef, transitive bool, lookup func(context.Context, string) (greep.Group, error)) ([]greep.Group, error) {
	ids, err := s.groupsOf(ctx, ref.indexKey(), transitive)
	if err != nil {
		return nil, err
	}
	p := principalFrom(ctx)
	groups := make([]greep.Group, 0, len(ids))
	for _, id := range ids {
		g, err := lookup(ctx, id)
		if errors.Is(err, greep.ErrNotFound) {
			continue // deleted since the index was read
		}
		if err != nil {
			return nil, err
		}
		if p.CanSeeGroup(g.Email) {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(a, b greep.Group) int { return cmp.Compare(a.Email, b.Email) })
	return groups, nil
}
