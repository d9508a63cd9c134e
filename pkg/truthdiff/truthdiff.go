// Package truthdiff compares Greep's cache with the Workspace simulator's truth, group by
// group and member by member: the check every end-to-end test, fault scenario and
// benchmark ends with.
package truthdiff

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Diff compares the cache with the simulator's truth: every group (id, email, aliases,
// name, directMembersCount) and every member (id, email, role, type, status), and no group
// the truth lacks. It returns up to max differences, described for a person; none means
// the cache equals the truth.
func Diff(ctx context.Context, store greep.GroupStore, truth workspacesim.Truth, max int) ([]string, error) {
	var diffs []string
	add := func(format string, args ...any) bool {
		diffs = append(diffs, fmt.Sprintf(format, args...))
		return len(diffs) >= max
	}
	want := make(map[string]workspacesim.TruthGroup, len(truth.Groups))
	for _, g := range truth.Groups {
		want[g.ID] = g
	}
	seen := map[string]bool{}
	tok := ""
	for {
		page, next, err := store.Groups(ctx, greep.Page{Token: tok, Limit: 1000})
		if err != nil {
			return diffs, fmt.Errorf("listing cached groups: %w", err)
		}
		for _, c := range page {
			seen[c.ID] = true
			w, ok := want[c.ID]
			if !ok {
				if add("group %s (%s) is cached but does not exist", c.Email, c.ID) {
					return diffs, nil
				}
				continue
			}
			if d := groupDiff(c, w); d != "" {
				if add("group %s: %s", w.Email, d) {
					return diffs, nil
				}
			}
			members, err := store.Members(ctx, c.ID)
			if err != nil {
				return diffs, fmt.Errorf("members of %s: %w", c.Email, err)
			}
			if d := membersDiff(members, w.Members); d != "" {
				if add("members of %s: %s", w.Email, d) {
					return diffs, nil
				}
			}
		}
		if next == "" {
			break
		}
		tok = next
	}
	for _, g := range truth.Groups {
		if !seen[g.ID] {
			if add("group %s (%s) is missing from the cache", g.Email, g.ID) {
				return diffs, nil
			}
		}
	}
	return diffs, nil
}

func groupDiff(c greep.Group, w workspacesim.TruthGroup) string {
	var d []string
	if !strings.EqualFold(c.Email, w.Email) {
		d = append(d, fmt.Sprintf("email %q, want %q", c.Email, w.Email))
	}
	if c.Name != w.Name {
		d = append(d, fmt.Sprintf("name %q, want %q", c.Name, w.Name))
	}
	if c.DirectMembersCount != w.DirectMembersCount {
		d = append(d, fmt.Sprintf("directMembersCount %d, want %d", c.DirectMembersCount, w.DirectMembersCount))
	}
	if a, b := sorted(c.Aliases), sorted(w.Aliases); a != b {
		d = append(d, fmt.Sprintf("aliases %s, want %s", a, b))
	}
	return strings.Join(d, "; ")
}

func sorted(s []string) string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return strings.Join(c, ",")
}

func membersDiff(got []greep.Member, want []workspacesim.TruthMember) string {
	key := func(id, email, role, typ, status string) string {
		return strings.Join([]string{id, strings.ToLower(email), role, typ, status}, "|")
	}
	have := map[string]int{}
	for _, m := range got {
		have[key(m.ID, m.Email, m.Role, m.Type, m.Status)]++
	}
	var missing []string
	for _, m := range want {
		k := key(m.ID, m.Email, m.Role, m.Type, m.Status)
		if have[k] == 0 {
			missing = append(missing, k)
			continue
		}
		have[k]--
	}
	var extra []string
	for k, n := range have {
		for ; n > 0; n-- {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("%d cached, %d true; missing %s; extra %s", len(got), len(want), head(missing), head(extra))
}

func head(s []string) string {
	if len(s) > 3 {
		return fmt.Sprintf("%v and %d more", s[:3], len(s)-3)
	}
	return fmt.Sprint(s)
}
