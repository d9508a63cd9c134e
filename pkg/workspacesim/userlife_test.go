package workspacesim_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/workspacesim"
)

// A user created, renamed and deleted, seen through the official Go client as Google
// shows it: the new user in users.get and users.list; after the rename the new primary
// email, the old address kept as an alias that still finds the user, and the member
// lists naming the user by the new address in email order; after the deletion no user
// and no membership. Each step is one USER_SETTINGS activity of the admin application.
func TestUserCreateRenameDelete(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 20, Groups: 20, Seed: 3})
	sim := srv.Sim
	d := sim.Domain()
	newcomer, renamed := "newcomer@"+d, "zz-renamed@"+d
	group := truth(t, srv, "").Groups[0].Email
	apply := func(muts ...workspacesim.Mutation) {
		t.Helper()
		if err := sim.Apply(muts); err != nil {
			t.Fatal(err)
		}
	}
	apply(workspacesim.Mutation{Op: "createUser", User: newcomer},
		workspacesim.Mutation{Op: "addMember", Group: group, Member: newcomer})
	u, err := cl.Directory.Users.Get(newcomer).Do()
	if err != nil || u.PrimaryEmail != newcomer || u.Suspended {
		t.Fatalf("users.get of the new user: %+v, %v", u, err)
	}
	id := u.Id
	list, err := cl.Directory.Users.List().Customer("my_customer").MaxResults(500).Do()
	if err != nil || !slices.ContainsFunc(list.Users, func(x *admin.User) bool { return x.PrimaryEmail == newcomer }) {
		t.Fatalf("users.list lacks the new user: %v", err)
	}

	apply(workspacesim.Mutation{Op: "renameUser", User: newcomer, Email: renamed})
	for _, key := range []string{renamed, newcomer, id} {
		u, err := cl.Directory.Users.Get(key).Do()
		if err != nil || u.PrimaryEmail != renamed || u.Id != id || !slices.Contains(u.Aliases, newcomer) {
			t.Errorf("users.get %s after the rename: %+v, %v; want primary %s with the old address as an alias", key, u, err, renamed)
		}
	}
	ms, err := cl.Directory.Members.List(group).Do()
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, m := range ms.Members {
		emails = append(emails, m.Email)
	}
	if !slices.Contains(emails, renamed) || slices.Contains(emails, newcomer) || !slices.IsSorted(emails) {
		t.Errorf("members of %s after the rename: %v; want %s, not %s, in email order", group, emails, renamed, newcomer)
	}
	if m, err := cl.Directory.Members.Get(group, newcomer).Do(); err != nil || m.Email != renamed {
		t.Errorf("members.get by the old address: %+v, %v", m, err)
	}

	apply(workspacesim.Mutation{Op: "deleteUser", User: renamed})
	for _, key := range []string{renamed, newcomer, id} {
		_, err := cl.Directory.Users.Get(key).Do()
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != http.StatusNotFound {
			t.Errorf("users.get %s after the deletion: %v, want 404", key, err)
		}
	}
	if has, err := cl.Directory.Members.HasMember(group, id).Do(); err == nil && has.IsMember {
		t.Errorf("the deleted user is still a member of %s", group)
	}
	if g := truth(t, srv, group).Groups[0]; slices.ContainsFunc(g.Members, func(m workspacesim.TruthMember) bool { return m.ID == id }) {
		t.Errorf("the truth of %s still holds the deleted user", group)
	}

	acts, err := cl.Reports.Activities.List("all", "admin").Do()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, a := range acts.Items {
		e := a.Events[0]
		if e.Type != "USER_SETTINGS" {
			continue
		}
		params := map[string]string{}
		for _, p := range e.Parameters {
			params[p.Name] = p.Value
		}
		got[e.Name] = params
	}
	for name, want := range map[string]map[string]string{
		"CREATE_USER": {"USER_EMAIL": newcomer},
		"RENAME_USER": {"USER_EMAIL": newcomer, "NEW_VALUE": renamed},
		"DELETE_USER": {"USER_EMAIL": renamed},
	} {
		for k, v := range want {
			if got[name][k] != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", name, k, got[name][k], v, got)
			}
		}
	}

	for _, bad := range []workspacesim.Mutation{
		{Op: "createUser", User: sim.Admin()},           // taken
		{Op: "createUser", User: "x@elsewhere.example"}, // another domain
		{Op: "renameUser", User: sim.Admin()},           // no new email
		{Op: "renameUser", User: sim.Admin(), Email: group},
		{Op: "deleteUser", User: renamed}, // gone
	} {
		if err := sim.Apply([]workspacesim.Mutation{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
