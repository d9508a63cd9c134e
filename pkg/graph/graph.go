// Package graph expands group nesting: a group's transitive members and the groups a user
// (or group) belongs to transitively. It does no I/O of its own: callers pass the lookups
// (usually a store's Members and MemberOf), so the expansion — breadth first, each group
// visited once, which is what makes cycles terminate — is tested without any store.
package graph

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// DirectFunc returns the direct members of the group with the given id. An error of code
// ENOTFOUND means the group is not known (for example a group of another domain nested
// in one of ours); the expansion skips it.
type DirectFunc func(ctx context.Context, groupID string) ([]greep.Member, error)

// MemberOfFunc returns the ids of the groups that hold key (a member's id or email) as a
// direct member.
type MemberOfFunc func(ctx context.Context, key string) ([]string, error)

// parallelism bounds the lookups one expansion runs at once: enough to hide a remote
// store's latency, few enough not to flood it.
const parallelism = 8

// Members returns the members reachable from root through nested groups, each once,
// without the nested groups themselves (members of type GROUP), ordered by email then id.
// When one member is reached along several paths, the entry from the group nearest root
// is kept (ties go to the group with the smaller id), so the result does not depend on
// the order lookups complete in.
func Members(ctx context.Context, root string, direct DirectFunc) ([]greep.Member, error) {
	type found struct {
		m     greep.Member
		depth int
		via   string
	}
	users := map[string]found{}
	visited := map[string]bool{root: true}
	level := []string{root}
	for depth := 0; len(level) > 0; depth++ {
		results, err := fanOut(ctx, level, func(ctx context.Context, id string) ([]greep.Member, error) {
			ms, err := direct(ctx, id)
			if errors.Is(err, greep.ErrNotFound) && id != root {
				return nil, nil
			}
			return ms, err
		})
		if err != nil {
			return nil, err
		}
		var next []string
		for i, ms := range results {
			for _, m := range ms {
				if m.Type == greep.TypeGroup {
					if m.ID != "" && !visited[m.ID] {
						visited[m.ID] = true
						next = append(next, m.ID)
					}
					continue
				}
				k := identity(m)
				if f, ok := users[k]; ok && (f.depth < depth || f.via < level[i]) {
					continue
				}
				users[k] = found{m: m, depth: depth, via: level[i]}
			}
		}
		sort.Strings(next)
		level = next
	}
	out := make([]greep.Member, 0, len(users))
	for _, f := range users {
		out = append(out, f.m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Email), strings.ToLower(out[j].Email)
		if a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Ancestors returns the ids of every group that holds key directly or through nested
// groups, each once, sorted. key itself is never in the result, even when nesting loops
// back to it.
func Ancestors(ctx context.Context, key string, memberOf MemberOfFunc) ([]string, error) {
	seen := map[string]bool{key: true}
	var out []string
	level := []string{key}
	for len(level) > 0 {
		results, err := fanOut(ctx, level, memberOf)
		if err != nil {
			return nil, err
		}
		var next []string
		for _, ids := range results {
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					out = append(out, id)
					next = append(next, id)
				}
			}
		}
		level = next
	}
	sort.Strings(out)
	return out, nil
}

// fanOut calls fn for every key, at most parallelism at once, and returns the results in
// the order of keys. The first error cancels the rest and is returned.
func fanOut[T any](ctx context.Context, keys []string, fn func(context.Context, string) (T, error)) ([]T, error) {
	out := make([]T, len(keys))
	if len(keys) == 1 {
		v, err := fn(ctx, keys[0])
		out[0] = v
		return out, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, parallelism)
	)
	for i, k := range keys {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := fn(ctx, k)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				return
			}
			out[i] = v
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func identity(m greep.Member) string {
	if m.ID != "" {
		return "i:" + m.ID
	}
	return "e:" + strings.ToLower(m.Email)
}
