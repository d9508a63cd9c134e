package api

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// memStore is a small in-memory Store for the handler tests, with failure injection. The
// embedded store (pkg/cache/bolt) is exercised by the integration tests.
type memStore struct {
	mu       sync.Mutex
	groups   map[string]greep.Group // by id
	members  map[string][]greep.Member
	users    []greep.User // by primary email
	events   []greep.Event
	findings []greep.Finding
	state    map[string][]byte
	fail     error // returned by every read when set
}

func newMemStore() *memStore {
	return &memStore{groups: map[string]greep.Group{}, members: map[string][]greep.Member{}, state: map[string][]byte{}}
}

func (s *memStore) put(g greep.Group, ms []greep.Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g.DirectMembersCount = int64(len(ms))
	s.groups[g.ID] = g
	s.members[g.ID] = slices.Clone(ms)
}

func (s *memStore) Group(_ context.Context, key string) (greep.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return greep.Group{}, s.fail
	}
	for _, g := range s.groups {
		if g.ID == key || strings.EqualFold(g.Email, key) || slices.ContainsFunc(g.Aliases, func(a string) bool { return strings.EqualFold(a, key) }) {
			return g, nil
		}
	}
	return greep.Group{}, greep.Errorf(greep.ENOTFOUND, "group %s", key)
}

func (s *memStore) User(_ context.Context, key string) (greep.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return greep.User{}, s.fail
	}
	for _, u := range s.users {
		if u.ID == key || strings.EqualFold(u.PrimaryEmail, key) || slices.ContainsFunc(u.AllAliases(), func(a string) bool { return strings.EqualFold(a, key) }) {
			return u, nil
		}
	}
	return greep.User{}, greep.Errorf(greep.ENOTFOUND, "user %s", key)
}

func (s *memStore) Groups(_ context.Context, p greep.Page) ([]greep.Group, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, "", s.fail
	}
	var all []greep.Group
	for _, g := range s.groups {
		all = append(all, g)
	}
	slices.SortFunc(all, func(a, b greep.Group) int { return cmp.Compare(a.Email, b.Email) })
	return page(all, p)
}

func page[T any](all []T, p greep.Page) ([]T, string, error) {
	start := 0
	if p.Token != "" {
		n, err := strconv.Atoi(p.Token)
		if err != nil {
			return nil, "", greep.Errorf(greep.EINVALID, "bad token")
		}
		start = n
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[min(start, len(all)):end], next, nil
}

func (s *memStore) Members(_ context.Context, id string) ([]greep.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	if _, ok := s.groups[id]; !ok {
		return nil, greep.Errorf(greep.ENOTFOUND, "group %s", id)
	}
	return slices.Clone(s.members[id]), nil
}

func (s *memStore) MemberOf(_ context.Context, key string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []string
	for id, ms := range s.members {
		if slices.ContainsFunc(ms, func(m greep.Member) bool { return m.ID == key || strings.EqualFold(m.Email, key) }) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *memStore) Events(_ context.Context, q greep.EventQuery) ([]greep.Event, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, "", s.fail
	}
	var sel []greep.Event
	for _, e := range s.events {
		if (q.Group == "" || e.Group == q.Group) && !e.Time.Before(q.Since) {
			sel = append(sel, e)
		}
	}
	return page(sel, q.Page)
}

func (s *memStore) Findings(_ context.Context, q greep.FindingQuery) ([]greep.Finding, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, "", s.fail
	}
	var sel []greep.Finding
	for _, f := range s.findings {
		if (q.Group == "" || f.Group == q.Group) && (q.State == "" || f.State == q.State) {
			sel = append(sel, f)
		}
	}
	return page(sel, q.Page)
}

func (s *memStore) State(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	b, ok := s.state[name]
	if !ok {
		return nil, greep.Errorf(greep.ENOTFOUND, "state %s", name)
	}
	return b, nil
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
