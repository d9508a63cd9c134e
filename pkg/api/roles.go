package api

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/greephq/greep/pkg/greep"
)

var validRoles = []string{"OWNER", "MANAGER", "MEMBER"}

// parseRoles reads the roles filter of a member list (OWNER, MANAGER, MEMBER,
// comma-separated, as Google's members.list takes it), sorted and without duplicates;
// nil when there is none.
func parseRoles(q url.Values) ([]string, error) {
	v := q.Get("roles")
	if v == "" {
		return nil, nil
	}
	var roles []string
	for _, role := range strings.Split(v, ",") {
		role = strings.ToUpper(strings.TrimSpace(role))
		if !slices.Contains(validRoles, role) {
			return nil, errInvalid("Invalid value for roles: %q (OWNER, MANAGER, MEMBER, comma-separated)", v)
		}
		roles = append(roles, role)
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// pageMembers picks the members of a page: from index start of snap, up to limit of
// those whose role is in roles (every member when roles is empty). more tells whether a
// further member would pass the filter, so a next page is promised only when it has one.
func pageMembers(snap *snapshot, start, limit int, roles []string) (picked []int, more bool) {
	for k := start; k < len(snap.members); k++ {
		if len(roles) > 0 && !slices.Contains(roles, snap.members[k].Role) {
			continue
		}
		if len(picked) == limit {
			return picked, true
		}
		picked = append(picked, k)
	}
	return picked, false
}

// roleIn is ref's own role in g ("" when ref is not a direct member: a group reached
// through nesting only).
func (s *server) roleIn(ctx context.Context, g greep.Group, ref memberRef) (string, error) {
	snap, err := s.snaps.get(ctx, g)
	if err != nil {
		return "", err
	}
	m, _ := findMember(snap, ref)
	return m.Role, nil
}

// v1Picked renders the picked members of s for /v1; a contiguous run (no roles filter)
// is rendered as one page.
func (s *snapshot) v1Picked(picked []int) [][]byte {
	if len(picked) == 0 {
		return nil
	}
	first, last := picked[0], picked[len(picked)-1]
	if last-first+1 == len(picked) {
		return s.v1Page(first, last+1)
	}
	out := make([][]byte, len(picked))
	for i, k := range picked {
		out[i] = s.v1Page(k, k+1)[0]
	}
	return out
}
