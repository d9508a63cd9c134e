// Package memory is a greep.Store held in memory, for tests: handler and dispatcher tests
// of several packages use it instead of writing their own, and it runs the store contract
// (pkg/cache/storetest) like the embedded and Datastore stores, so what a test sees is
// what production code meets. Intercept fails chosen calls, as a broken disk or an
// unreachable Datastore would.
//
// Values are kept JSON-encoded, as the other stores keep them: a caller never shares
// memory with the store, and the size limits of pkg/cache apply.
package memory

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// Store is the in-memory store. Its methods are safe for concurrent use.
type Store struct {
	mu        sync.RWMutex
	intercept func(op string) error

	groups    map[string][]byte            // id -> Group JSON
	byEmail   map[string]map[string]bool   // folded email -> group ids
	byAlias   map[string]map[string]bool   // folded alias -> group ids
	members   map[string][]greep.Member    // group id -> normalised snapshot, never modified
	memberOf  cache.MemberIndex            // member id or folded email -> group ids
	users     map[string][]byte            // id -> User JSON
	userEmail map[string]string            // folded primary email -> user id
	userAlias map[string]string            // folded alias -> user id
	settings  map[string][]byte            // folded group email -> GroupSettings JSON
	events    map[string]eventEntry        // id -> entry
	findings  map[string][]byte            // id -> Finding JSON
	state     map[string][]byte            // name -> document
	counters  map[string]int64             // name -> total
	records   map[string]map[string][]byte // kind -> id -> data
	versions  map[string]uint64            // "state/"+name or "finding/"+id -> writes so far
	feed      feed
}

var _ greep.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		groups: map[string][]byte{}, byEmail: map[string]map[string]bool{}, byAlias: map[string]map[string]bool{},
		members: map[string][]greep.Member{},
		users:   map[string][]byte{}, userEmail: map[string]string{}, userAlias: map[string]string{},
		settings: map[string][]byte{}, events: map[string]eventEntry{}, findings: map[string][]byte{},
		state: map[string][]byte{}, counters: map[string]int64{}, records: map[string]map[string][]byte{},
		versions: map[string]uint64{},
	}
}

// Intercept has every later call first ask f, with the method's name ("Group",
// "PutRecord", ...); the call fails with f's error when it returns one. nil removes f.
func (s *Store) Intercept(f func(op string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = f
}

func (s *Store) intercepted(op string) error {
	s.mu.RLock()
	f := s.intercept
	s.mu.RUnlock()
	if f == nil {
		return nil
	}
	return f(op)
}

// Close implements greep.Store; the store stays usable.
func (s *Store) Close() error { return nil }

func encode(what string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return b, cache.CheckSize(what, len(b))
}

func decode(what string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return greep.Errorf(greep.EINTERNAL, "decode %s: %v", what, err)
	}
	return nil
}

// Page tokens are the last key returned, base64-encoded, as in the embedded store: the
// next page starts after it, so writes between pages neither repeat nor shift items.
func decodeToken(t string) (string, error) {
	if t == "" {
		return "", nil
	}
	k, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(k) == 0 {
		return "", greep.Errorf(greep.EINVALID, "invalid page token")
	}
	return string(k), nil
}

// page returns the keys of one page: sorted keys from start (or after the token's key),
// at most limit of them, and the token of the next page when more follow.
func page(keys []string, start, token string, limit int) ([]string, string, error) {
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	slices.Sort(keys)
	i, _ := slices.BinarySearch(keys, start)
	if token != "" {
		i, _ = slices.BinarySearch(keys, after)
		if i < len(keys) && keys[i] == after {
			i++
		}
	}
	end := min(i+limit, len(keys))
	next := ""
	if end < len(keys) {
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	return keys[i:end], next, nil
}

func key(parts ...string) string { return strings.Join(parts, "\x00") }

// add and remove keep a many-valued index.
func add(idx map[string]map[string]bool, k, id string) {
	if idx[k] == nil {
		idx[k] = map[string]bool{}
	}
	idx[k][id] = true
}

func remove(idx map[string]map[string]bool, k, id string) {
	delete(idx[k], id)
	if len(idx[k]) == 0 {
		delete(idx, k)
	}
}

// first returns the smallest id under k, as the embedded store's index finds it.
func first(idx map[string]map[string]bool, k string) (string, bool) {
	var ids []string
	for id := range idx[k] {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return "", false
	}
	return slices.Min(ids), true
}
