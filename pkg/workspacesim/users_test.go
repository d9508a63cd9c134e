package workspacesim_test

import (
	"slices"
	"testing"

	"github.com/greephq/greep/pkg/workspacesim"
)

// A user suspended, archived or given an alias shows so in users.get, users.list and
// members.list at once, is found by the new alias, and the change is logged as the Admin
// console logs it (application admin, type USER_SETTINGS).
func TestUserMutations(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 20, Groups: 20, Seed: 3})
	tr := truth(t, srv, "")
	var user, group string
	for _, g := range tr.Groups {
		for _, m := range g.Members {
			if m.Type == "USER" && m.Status == "ACTIVE" && user == "" && m.Email != srv.Sim.Admin() && slices.ContainsFunc(tr.Users, func(u workspacesim.TruthUser) bool { return u.PrimaryEmail == m.Email }) {
				user, group = m.Email, g.Email
			}
		}
	}
	if user == "" {
		t.Fatal("no active user in a group")
	}
	alias := "nick@" + srv.Sim.Domain()
	if err := srv.Sim.Apply([]workspacesim.Mutation{
		{Op: "suspendUser", User: user},
		{Op: "suspendUser", User: user}, // already so: nothing logged
		{Op: "addUserAlias", User: user, Alias: alias},
	}); err != nil {
		t.Fatal(err)
	}
	u, err := cl.Directory.Users.Get(alias).Do()
	if err != nil || u.PrimaryEmail != user || !u.Suspended || !slices.Contains(u.Aliases, alias) {
		t.Fatalf("users.get by the new alias: %+v, %v", u, err)
	}
	if len(u.NonEditableAliases) != 1 {
		t.Errorf("nonEditableAliases %v", u.NonEditableAliases)
	}
	m, err := cl.Directory.Members.Get(group, alias).Do()
	if err != nil || m.Status != "SUSPENDED" {
		t.Errorf("members.get by alias: %+v, %v", m, err)
	}
	acts, err := cl.Reports.Activities.List("all", "admin").Do()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range acts.Items {
		e := a.Events[0]
		names = append(names, e.Type+"/"+e.Name)
		if e.Parameters[0].Name != "USER_EMAIL" || e.Parameters[0].Value != user {
			t.Errorf("%s parameters %+v", e.Name, e.Parameters)
		}
	}
	if want := []string{"USER_SETTINGS/ADD_NICKNAME", "USER_SETTINGS/SUSPEND_USER"}; !slices.Equal(slices.Sorted(slices.Values(names)), want) {
		t.Errorf("activities %v, want %v", names, want)
	}

	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "removeUserAlias", User: user, Alias: alias}, {Op: "unsuspendUser", User: user}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Directory.Users.Get(alias).Do(); err == nil {
		t.Error("a removed alias still finds the user")
	}
	for _, bad := range []workspacesim.Mutation{
		{Op: "suspendUser"},
		{Op: "suspendUser", User: "nobody@" + srv.Sim.Domain()},
		{Op: "addUserAlias", User: user},
		{Op: "addUserAlias", User: user, Alias: "x@elsewhere.example"},
		{Op: "addUserAlias", User: user, Alias: group},
		{Op: "removeUserAlias", User: user, Alias: alias},
	} {
		if err := srv.Sim.Apply([]workspacesim.Mutation{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// A change made in the Groups UI is logged under the groups application's own lower-case
// names and parameters.
func TestGroupsApplicationEventNames(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10, Seed: 2})
	g := truth(t, srv, "").Groups[0]
	if err := srv.Sim.Apply([]workspacesim.Mutation{
		{Op: "addMember", Group: g.Email, Member: "ui@outside.example", Application: "groups"},
		{Op: "updateMember", Group: g.Email, Member: "ui@outside.example", Role: "MANAGER", Application: "groups"},
		{Op: "removeMember", Group: g.Email, Member: "ui@outside.example", Application: "groups"},
		{Op: "setSettings", Group: g.Email, Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}, Application: "groups"},
	}); err != nil {
		t.Fatal(err)
	}
	acts, err := cl.Reports.Activities.List("all", "groups").Do()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, a := range acts.Items {
		params := map[string]string{}
		for _, p := range a.Events[0].Parameters {
			params[p.Name] = p.Value
		}
		got[a.Events[0].Name] = params
	}
	for name, want := range map[string]map[string]string{
		"add_user":              {"group_email": g.Email, "user_email": "ui@outside.example"},
		"change_user_role":      {"group_email": g.Email, "user_email": "ui@outside.example", "new_value": "MANAGER"},
		"remove_user":           {"group_email": g.Email, "user_email": "ui@outside.example"},
		"change_acl_permission": {"group_email": g.Email, "acl_permission": "can_view_group", "new_value_repeated": "ANYONE_CAN_VIEW"},
	} {
		for k, v := range want {
			if got[name][k] != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", name, k, got[name][k], v, got)
			}
		}
	}
}
