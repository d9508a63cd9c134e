package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
)

// /v1 member lists filter by roles and page through the filtered list alone; a bad role
// is 400 in Google's shape.
func TestV1MembersRoles(t *testing.T) {
	st := fixture()
	ctx := context.Background()
	g, err := st.Group(ctx, "g-big")
	if err != nil {
		t.Fatal(err)
	}
	big, err := st.Members(ctx, "g-big")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range big {
		switch m.Email {
		case "user0007@example.com", "user0300@example.com", "user0449@example.com":
			big[i].Role = "MANAGER"
		}
	}
	st.put(g, big)
	s := newTestServer(t, st, nil)
	type page struct {
		Members []struct {
			Email, Role string
		}
		NextPageToken string
	}
	list := func(roles string, limit int) (emails, rolesSeen []string, pages int) {
		t.Helper()
		tok := ""
		for {
			var p page
			get(t, s.router, "/v1/groups/big@example.com/members?roles="+url.QueryEscape(roles)+"&maxResults="+strconv.Itoa(limit)+"&pageToken="+url.QueryEscape(tok)).decode(t, &p)
			pages++
			for _, m := range p.Members {
				emails = append(emails, m.Email)
				rolesSeen = append(rolesSeen, m.Role)
			}
			if tok = p.NextPageToken; tok == "" {
				return emails, rolesSeen, pages
			}
		}
	}
	emails, _, pages := list("OWNER,MANAGER", 2)
	want := []string{"user0000@example.com", "user0007@example.com", "user0300@example.com", "user0449@example.com"}
	if !slices.Equal(emails, want) || pages != 2 {
		t.Errorf("roles=OWNER,MANAGER by 2: %v in %d pages, want %v in 2", emails, pages, want)
	}
	if emails, _, _ := list("owner", 10); !slices.Equal(emails, want[:1]) {
		t.Errorf("roles=owner: %v", emails)
	}
	if emails, roles, _ := list("MEMBER", 1000); len(emails) != 451-4 || slices.Contains(roles, "OWNER") || slices.Contains(roles, "MANAGER") {
		t.Errorf("roles=MEMBER: %d members, roles %v", len(emails), slices.Compact(slices.Sorted(slices.Values(roles))))
	}
	// A page token is bound to its filter.
	var p page
	get(t, s.router, "/v1/groups/big@example.com/members?roles=OWNER,MANAGER&maxResults=2").decode(t, &p)
	get(t, s.router, "/v1/groups/big@example.com/members?maxResults=2&pageToken="+url.QueryEscape(p.NextPageToken)).googleError(t, http.StatusBadRequest, "invalid")
	get(t, s.router, "/v1/groups/big@example.com/members?roles=ADMIN").googleError(t, http.StatusBadRequest, "invalid")
}

// Each group of /v1/users/{key}/groups carries the user's own role in it; a group reached
// only through nesting carries none.
func TestV1UserGroupsRole(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	var a struct {
		Groups []struct {
			Email string
			Role  *string
		}
	}
	get(t, s.router, "/v1/users/user0001@example.com/groups?transitive=true").decode(t, &a)
	roles := map[string]string{}
	for _, g := range a.Groups {
		role := "(none)"
		if g.Role != nil {
			role = *g.Role
		}
		roles[g.Email] = role
	}
	// user0001 is a direct member of big and eng; big holds eng, so big is also reached
	// through nesting, where its direct membership still names the role. ops holds eng
	// (a cycle) and so is reached only through nesting.
	want := map[string]string{"big@example.com": "MEMBER", "eng@example.com": "MEMBER", "ops@eng.example.com": "(none)"}
	for k, v := range want {
		if roles[k] != v {
			t.Errorf("role in %s = %s, want %s (all: %v)", k, roles[k], v, roles)
		}
	}
	get(t, s.router, "/v1/users/user0000@example.com/groups").decode(t, &a)
	if len(a.Groups) != 1 || a.Groups[0].Role == nil || *a.Groups[0].Role != "OWNER" {
		t.Errorf("user0000's groups: %+v, want big as OWNER", a.Groups)
	}
}
