package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Rules are judged when a group's members change, not at the next settings sweep (a
// simulated day away, far past this test's deadline), and not only after the debounced
// read: through greep local's push channel, the sentinel added to a group whose
// moderation is unsafe for a secure group, an outside owner added to a group that does
// not allow outsiders, and a suspended user added to a group each open their finding
// from the notification's provisional change, before the group's debounced read is due,
// with no settings read; removing them fixes the findings as a sweep would.
func TestMemberChangesAreJudgedAtOnce(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.NoPush, cfg.NoRemediation = false, false
	// A long debounce (18 s of wall time at the tests' scale) keeps the reads the
	// notifications ask for well after the judging of their provisional changes.
	cfg.Debounce = time.Hour
	cfg.Rules = "../../deploy/remediation.yaml" // detect mode: a settings read can only come from a sweep or a settings event
	app, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	waitSynced(t, app)
	waitFor := func(what string, ok func() bool) { t.Helper(); waitSim(t, 90*time.Second, sim.Sim, what, ok) }
	waitFor("watch channels", func() bool { return sim.Sim.Stats().Channels >= 2 })

	truth, err := sim.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	// A user suspended before the test adds it anywhere (the tenant's seed has none).
	var suspended string
	for _, u := range truth.Users {
		if !u.Suspended && !u.Archived && u.PrimaryEmail != sim.Sim.Admin() && u.PrimaryEmail != sim.Sim.Sentinel() && suspended == "" {
			suspended = u.PrimaryEmail
		}
	}
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "suspendUser", User: suspended}}); err != nil {
		t.Fatal(err)
	}
	waitFor("the suspension in the directory", func() bool {
		u, err := app.Store.User(ctx, suspended)
		return err == nil && u.Suspended
	})
	has := func(g workspacesim.TruthGroup, email string) bool {
		for _, m := range g.Members {
			if m.Email == email {
				return true
			}
		}
		return false
	}
	// Three different groups without the sentinel: one whose moderation only a secure
	// group may not have, one closed to outsiders, one without the suspended user.
	var toSecure, closed, any workspacesim.TruthGroup
	for _, g := range truth.Groups {
		switch {
		case has(g, sim.Sim.Sentinel()) || has(g, suspended):
		case toSecure.ID == "" && g.Settings["whoCanModerateMembers"] == "ALL_MEMBERS":
			toSecure = g
		case closed.ID == "" && g.Settings["allowExternalMembers"] == "false":
			closed = g
		case any.ID == "":
			any = g
		}
	}
	if toSecure.ID == "" || closed.ID == "" || any.ID == "" {
		t.Fatalf("the tenant lacks the groups the test needs: %q %q %q", toSecure.Email, closed.Email, any.Email)
	}
	// The settings sweep that follows the first sync has read every group's settings.
	for _, g := range truth.Groups {
		waitFor("the settings of "+g.Email, func() bool { _, err := app.Store.Settings(ctx, g.Email); return err == nil })
	}
	outsider := "olga@outside.test"
	secureRule := "secure.moderate-members" // deploy/remediation.yaml's secure rule
	open := []struct{ group, rule string }{
		{toSecure.Email, secureRule},
		{closed.Email, rules.RuleExternalMember + outsider},
		{any.Email, rules.RuleInactiveMember + suspended},
	}
	for _, o := range open {
		if state(t, app, o.group, o.rule) != "" {
			t.Fatalf("%s already has a finding of %s", o.group, o.rule)
		}
	}

	reads := sim.Sim.Stats().Calls["groupssettings.groups.get"]
	if err := sim.Sim.Apply([]workspacesim.Mutation{
		{Op: "addMember", Group: toSecure.Email, Member: sim.Sim.Sentinel()},
		{Op: "addMember", Group: closed.Email, Member: outsider, Role: "OWNER"},
		{Op: "addMember", Group: any.Email, Member: suspended},
	}); err != nil {
		t.Fatal(err)
	}
	for _, o := range open {
		waitFor(o.rule+" open on "+o.group, func() bool { return state(t, app, o.group, o.rule) == greep.FindingOpen })
		f, err := app.Store.Finding(ctx, remediation.FindingID(o.group, o.rule))
		if err != nil {
			t.Fatal(err)
		}
		var w struct{ Start, Due time.Time }
		if _, err := greep.LoadState(ctx, app.Store, push.StateName("refresh", o.group), &w); err != nil {
			t.Fatal(err)
		}
		if !f.FirstSeen.Before(w.Due) {
			t.Errorf("%s on %s opened at %v, not before the debounced read due at %v", o.rule, o.group, f.FirstSeen, w.Due)
		}
		t.Logf("%s on %s: open %v (simulated) after the notification", o.rule, o.group, f.FirstSeen.Sub(w.Start))
	}
	if n := sim.Sim.Stats().Calls["groupssettings.groups.get"]; n != reads {
		t.Errorf("%d settings reads while the member changes were judged: the findings must come from the member writes", n-reads)
	}

	if err := sim.Sim.Apply([]workspacesim.Mutation{
		{Op: "removeMember", Group: toSecure.Email, Member: sim.Sim.Sentinel()},
		{Op: "removeMember", Group: closed.Email, Member: outsider},
		{Op: "removeMember", Group: any.Email, Member: suspended},
	}); err != nil {
		t.Fatal(err)
	}
	for _, o := range open {
		waitFor(o.rule+" fixed on "+o.group, func() bool { return state(t, app, o.group, o.rule) == greep.FindingFixed })
	}
}

// state is the state of the group's finding of rule ("" when it has none).
func state(t *testing.T, app *local.App, group, rule string) string {
	t.Helper()
	f, err := app.Store.Finding(context.Background(), remediation.FindingID(group, rule))
	if greep.ErrorCode(err) == greep.ENOTFOUND {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.State
}
