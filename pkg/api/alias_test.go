package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	admin "google.golang.org/api/admin/directory/v1"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/workspacesim"
)

// aliasCase is a tenant where a user known by an alias is a member of a group, and a
// group known by an alias holds members and is itself nested in another group.
type aliasCase struct {
	*env
	user, userAlias, userFixed string // primary email, alias, non-editable alias
	group, groupAlias          string // a group holding user
	child, childAlias          string // a group with an alias, nested in group
}

func newAliasCase(t *testing.T) aliasCase {
	t.Helper()
	e := newEnv(t, 300, 400)
	c := aliasCase{env: e}
	for _, u := range e.truth.Users {
		if len(u.Aliases) > 0 && len(u.NonEditableAliases) > 0 {
			c.user, c.userAlias, c.userFixed = u.PrimaryEmail, u.Aliases[0], u.NonEditableAliases[0]
			break
		}
	}
	var aliased []workspacesim.TruthGroup
	for _, g := range e.truth.Groups {
		if len(g.Aliases) > 0 {
			aliased = append(aliased, g)
		}
	}
	if c.user == "" || len(aliased) < 2 {
		t.Fatalf("the tenant has no aliased user or fewer than two aliased groups")
	}
	c.group, c.groupAlias = aliased[0].Email, aliased[0].Aliases[0]
	c.child, c.childAlias = aliased[1].Email, aliased[1].Aliases[0]
	// Given by their aliases, as a job would.
	muts := []workspacesim.Mutation{
		{Op: "addMember", Group: c.groupAlias, Member: c.userAlias, Role: "OWNER"},
		{Op: "addMember", Group: c.groupAlias, Member: c.childAlias},
	}
	if err := e.sim.Sim.Apply(muts); err != nil {
		t.Fatal(err)
	}
	truth, err := e.sim.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	e.truth = truth
	fill(t, e.store, truth, e.sim.Sim.Now())
	return c
}

// Every key Google accepts for a user or a group (primary email, alias, non-editable
// alias, id), asked through Google's own Go client, gets Greep the answer Google gives.
func TestAliasesThroughGoClient(t *testing.T) {
	c := newAliasCase(t)
	viaGreep := directoryClient(t, c.greep.URL, apiToken)
	direct := directoryClient(t, c.sim.URL, c.sim.Sim.Admin())
	ctx := context.Background()

	for _, key := range []string{c.userAlias, c.userFixed, c.user} {
		// members.hasMember by a member's alias: true, not a wrong false.
		for _, svc := range []*admin.Service{viaGreep, direct} {
			h, err := svc.Members.HasMember(c.group, key).Context(ctx).Do()
			if err != nil || !h.IsMember {
				t.Errorf("hasMember(%s, %s) = %+v, %v; want true", c.group, key, h, err)
			}
		}
		// members.get by alias: the member, as Google answers.
		mg, err := viaGreep.Members.Get(c.group, key).Do()
		if err != nil {
			t.Fatalf("members.get(%s, %s): %v", c.group, key, err)
		}
		ms, err := direct.Members.Get(c.group, key).Do()
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "members.get by "+key, normMembers([]*admin.Member{mg}), normMembers([]*admin.Member{ms}))
		if mg.Email != c.user || mg.Role != "OWNER" {
			t.Errorf("members.get by %s = %+v", key, mg)
		}
		// groups.list?userKey=ALIAS: the user's groups.
		got, _ := listGroups(t, viaGreep.Groups.List().UserKey(key))
		want, _ := listGroups(t, direct.Groups.List().UserKey(key))
		equal(t, "groups.list userKey="+key, got, want)
		if !slices.ContainsFunc(got, func(g admin.Group) bool { return g.Email == c.group }) {
			t.Errorf("groups.list userKey=%s misses %s", key, c.group)
		}
	}

	// Group keys by alias: groups.get, members.list, members.get and hasMember on the
	// group's alias; the nested group as a member given by its alias.
	gg, err := viaGreep.Groups.Get(c.groupAlias).Do()
	if err != nil {
		t.Fatal(err)
	}
	gs, err := direct.Groups.Get(c.groupAlias).Do()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "groups.get by alias", normGroups([]*admin.Group{gg}), normGroups([]*admin.Group{gs}))
	if len(gg.NonEditableAliases) == 0 {
		t.Errorf("groups.get: no nonEditableAliases in %+v", gg)
	}
	equal(t, "members.list by group alias", listMembers(t, viaGreep.Members.List(c.groupAlias)), listMembers(t, direct.Members.List(c.groupAlias)))
	for _, key := range []string{c.childAlias, c.child} {
		h, err := viaGreep.Members.HasMember(c.groupAlias, key).Do()
		if err != nil || !h.IsMember {
			t.Errorf("hasMember(%s, %s) = %+v, %v; want true", c.groupAlias, key, h, err)
		}
		got, _ := listGroups(t, viaGreep.Groups.List().UserKey(key))
		want, _ := listGroups(t, direct.Groups.List().UserKey(key))
		equal(t, "groups.list userKey="+key, got, want)
	}
	// An alias nobody holds is still no member, and members.get of it is 404.
	nobody := "nobody-alias@" + c.sim.Sim.Domain()
	if h, err := viaGreep.Members.HasMember(c.group, nobody).Do(); err != nil || h.IsMember {
		t.Errorf("hasMember(%s, %s) = %+v, %v; want false", c.group, nobody, h, err)
	}
	if _, err := viaGreep.Members.Get(c.group, nobody).Do(); err == nil {
		t.Errorf("members.get(%s, %s) found a member", c.group, nobody)
	}
}

// The /v1 surface takes the same keys: a user's groups by alias, a group by alias.
func TestAliasesOnV1(t *testing.T) {
	c := newAliasCase(t)
	getV1 := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, c.greep.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	type groupsAnswer struct {
		Groups []struct {
			Email string `json:"email"`
		} `json:"groups"`
	}
	emails := func(a groupsAnswer) []string {
		var out []string
		for _, g := range a.Groups {
			out = append(out, g.Email)
		}
		return out
	}
	var byEmail groupsAnswer
	getV1("/v1/users/"+url.PathEscape(c.user)+"/groups", &byEmail)
	if !slices.Contains(emails(byEmail), c.group) {
		t.Fatalf("/v1/users/%s/groups = %v, misses %s", c.user, emails(byEmail), c.group)
	}
	for _, key := range []string{c.userAlias, c.userFixed} {
		for _, transitive := range []string{"false", "true"} {
			var byAlias, want groupsAnswer
			getV1("/v1/users/"+url.PathEscape(key)+"/groups?transitive="+transitive, &byAlias)
			getV1("/v1/users/"+url.PathEscape(c.user)+"/groups?transitive="+transitive, &want)
			if !slices.Equal(emails(byAlias), emails(want)) || len(want.Groups) == 0 {
				t.Errorf("/v1/users/%s/groups?transitive=%s = %v, by primary email %v", key, transitive, emails(byAlias), emails(want))
			}
		}
	}
	var g greep.Group
	getV1("/v1/groups/"+url.PathEscape(c.groupAlias), &g)
	if g.Email != c.group {
		t.Errorf("/v1/groups/%s = %s, want %s", c.groupAlias, g.Email, c.group)
	}
	var members struct {
		Members []greep.Member `json:"members"`
	}
	getV1("/v1/groups/"+url.PathEscape(c.groupAlias)+"/members", &members)
	if !slices.ContainsFunc(members.Members, func(m greep.Member) bool { return m.Email == c.user && m.Role == "OWNER" }) {
		t.Errorf("/v1/groups/%s/members misses %s: %+v", c.groupAlias, c.user, members.Members)
	}
	var childGroups groupsAnswer
	getV1("/v1/users/"+url.PathEscape(c.childAlias)+"/groups", &childGroups)
	if !slices.Contains(emails(childGroups), c.group) {
		t.Errorf("/v1/users/%s/groups (a nested group by its alias) = %v, misses %s", c.childAlias, emails(childGroups), c.group)
	}
}
