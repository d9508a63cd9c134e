package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/workspacesim"
)

// A user suspended in the Admin console reaches the user directory through the push
// channel (SUSPEND_USER → users.get), and every group the user is in gets its
// inactive-member finding without waiting for a sweep; an alias added is a key of the
// user at once.
func TestUserEventUpdatesDirectoryAndFindings(t *testing.T) {
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.NoPush, cfg.NoRemediation = false, false
	cfg.Rules = "../../deploy/remediation.yaml"
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	waitSynced(t, app)
	waitFor := func(what string, ok func() bool) { t.Helper(); waitSim(t, 60*time.Second, sim.Sim, what, ok) }
	waitChannels(t, sim.Sim)

	// An active user who is a direct member of a group.
	truth, _ := sim.Sim.Truth("")
	active := map[string]bool{}
	for _, u := range truth.Users {
		if !u.Suspended && !u.Archived && u.PrimaryEmail != sim.Sim.Admin() && u.PrimaryEmail != sim.Sim.Sentinel() {
			active[u.PrimaryEmail] = true
		}
	}
	var user, group string
	for _, g := range truth.Groups {
		for _, m := range g.Members {
			if active[m.Email] && user == "" {
				user, group = m.Email, g.Email
			}
		}
	}
	if user == "" {
		t.Fatal("no active user in a group")
	}
	waitFor("the user in the directory", func() bool {
		var u struct{ Status string }
		getJSON(t, app, "/v1/users/"+user, &u)
		return u.Status == "ACTIVE"
	})

	if err := sim.Sim.Apply([]workspacesim.Mutation{
		{Op: "suspendUser", User: user},
		{Op: "addUserAlias", User: user, Alias: "suspended-alias@" + sim.Sim.Domain()},
	}); err != nil {
		t.Fatal(err)
	}
	waitFor("the suspension in the directory, found by the new alias", func() bool {
		u, err := app.Store.User(context.Background(), "suspended-alias@"+sim.Sim.Domain())
		return err == nil && u.Suspended
	})
	var u struct{ Status string }
	getJSON(t, app, "/v1/users/suspended-alias@"+sim.Sim.Domain(), &u)
	if u.Status != "SUSPENDED" {
		t.Errorf("/v1/users/{alias} status %q", u.Status)
	}
	var page struct {
		Users []struct{ PrimaryEmail string }
	}
	getJSON(t, app, "/v1/users?status=SUSPENDED&maxResults=1000", &page)
	found := false
	for _, u := range page.Users {
		found = found || u.PrimaryEmail == user
	}
	if !found {
		t.Errorf("/v1/users?status=SUSPENDED misses %s", user)
	}
	waitFor("the inactive-member finding of "+group, func() bool { return hasFinding(t, app, group, rules.RuleInactiveMember+user) })
	if n := sim.Sim.Stats().Calls["directory.users.get"]; n < 1 {
		t.Errorf("no users.get after the user event: %d", n)
	}
}

// hasFinding tells whether the group has an open finding of rule.
func hasFinding(t *testing.T, app *local.App, group, rule string) bool {
	t.Helper()
	fs, _, err := app.Store.Findings(context.Background(), greep.FindingQuery{Group: group, Page: greep.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Rule == rule && f.State == greep.FindingOpen {
			return true
		}
	}
	return false
}
