package local_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Must-show 1 of issue 16: Greep stopped, changes made in Workspace (a member added, one
// removed, a setting changed, a user suspended), Greep started again on the same data: the
// backfill brings every change into /v1/history once, with its actor, and the suspended
// user's memberships get their findings.
func TestBackfillAfterDowntime(t *testing.T) {
	sim := startSim(t, 20)
	cfg := config(sim, t.TempDir())
	cfg.NoPush, cfg.NoRemediation = false, false
	cfg.Rules = "../../deploy/remediation.yaml"
	// The hourly reconciliation reuses the backfill's state: on a slow machine one began
	// after the backfill (18 s of wall time here) reset the counts this test reads.
	cfg.ReconcileEvery = -1
	ctx := context.Background()
	app, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitSynced(t, app)
	waitFor := func(what string, ok func() bool) { t.Helper(); waitSim(t, 120*time.Second, sim.Sim, what, ok) }
	waitFor("watch channels", func() bool { return sim.Sim.Stats().Channels >= 2 })

	truth, err := sim.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	active := map[string]bool{}
	for _, u := range truth.Users {
		if !u.Suspended && !u.Archived && u.PrimaryEmail != sim.Sim.Admin() && u.PrimaryEmail != sim.Sim.Sentinel() {
			active[u.PrimaryEmail] = true
		}
	}
	// Four groups: one gains a member, one loses one, one has a setting changed, and a
	// member of the fourth is suspended.
	var added, removed, changed, suspended, gone, user string
	for _, g := range truth.Groups {
		switch {
		case added == "":
			added = g.Email
		case removed == "" && len(g.Members) > 0:
			removed, gone = g.Email, g.Members[0].Email
		case changed == "":
			changed = g.Email
		case suspended == "":
			for _, m := range g.Members {
				if active[m.Email] && m.Email != gone {
					suspended, user = g.Email, m.Email
					break
				}
			}
		}
	}
	if user == "" {
		t.Fatal("the tenant has no group with an active member to suspend")
	}

	// A change while Greep runs, pushed. Activity times are in milliseconds, as Google's
	// are: a since taken from the nanosecond clock would pass over the change.
	before := sim.Sim.Now().Add(-time.Second)
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: added, Member: "before@outside.example"}}); err != nil {
		t.Fatal(err)
	}
	waitFor("the change pushed while running", func() bool { return len(history(t, app, before, "before@outside.example")) == 1 })
	if err := app.Close(ctx); err != nil {
		t.Fatal(err)
	}

	admin, helpdesk := sim.Sim.Admin(), "helpdesk@"+sim.Sim.Domain()
	changes := []workspacesim.Mutation{
		{Op: "addMember", Group: added, Member: "while-down@outside.example", Actor: helpdesk},
		{Op: "removeMember", Group: removed, Member: gone, Actor: admin},
		{Op: "setSettings", Group: changed, Settings: map[string]string{"whoCanJoin": "ANYONE_CAN_JOIN"}, Actor: helpdesk},
		{Op: "suspendUser", User: user, Actor: admin},
	}
	if err := sim.Sim.Apply(changes); err != nil {
		t.Fatal(err)
	}

	// The restarted Greep's log tells what its backfills recorded: the state document
	// keeps only the last run's count, and a second, empty run (from the first one's end
	// to the new channel's watch) may finish before the test reads it.
	logs, logged := observer.New(zap.InfoLevel)
	cfg.Logger = zap.New(logs)
	app, err = local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	want := []struct{ event, key, actor string }{
		{"ADD_GROUP_MEMBER", "while-down@outside.example", helpdesk},
		{"REMOVE_GROUP_MEMBER", gone, admin},
		{"CHANGE_GROUP_SETTING", changed, helpdesk},
		{"SUSPEND_USER", user, admin},
	}
	for _, w := range want {
		waitFor(fmt.Sprintf("%s of %s in /v1/history", w.event, w.key), func() bool {
			for _, e := range history(t, app, before, w.key) {
				if e.Event == w.event {
					return true
				}
			}
			return false
		})
	}
	// Every page task has run once the backfill states say done; only then is "once"
	// meaningful.
	waitFor("the backfills done", func() bool {
		for _, a := range []string{"admin", "groups"} {
			var b reports.Backfill
			found, err := greep.LoadState(ctx, app.Store, reports.BackfillState(a), &b)
			if err != nil {
				t.Fatal(err)
			}
			if !found || b.Running {
				return false
			}
		}
		return true
	})
	for _, w := range want {
		var n int
		for _, e := range history(t, app, before, w.key) {
			if e.Event != w.event {
				continue
			}
			n++
			if e.Actor != w.actor {
				t.Errorf("%s of %s has actor %q, want %q", w.event, w.key, e.Actor, w.actor)
			}
		}
		if n != 1 {
			t.Errorf("%s of %s is in /v1/history %d times, want once", w.event, w.key, n)
		}
	}
	if n := len(history(t, app, before, "before@outside.example")); n != 1 {
		t.Errorf("the change pushed before the stop is in /v1/history %d times, want once", n)
	}
	// The restarted Greep listens on a new port, so the channels made before the stop
	// deliver nothing to it: the changes can only have come through the backfill.
	waitFor(fmt.Sprintf("the backfills to log at least the %d changes recorded", len(want)), func() bool {
		recorded := int64(0)
		for _, e := range logged.FilterMessage("reports: backfill done").All() {
			n, _ := e.ContextMap()["recorded"].(int64)
			recorded += n
		}
		return recorded >= int64(len(want))
	})
	for _, g := range truth.Groups {
		for _, m := range g.Members {
			if m.Email == user {
				waitFor("the inactive-member finding of "+g.Email, func() bool { return hasFinding(t, app, g.Email, rules.RuleInactiveMember+user) })
			}
		}
	}
}

// history returns the /v1/history events since since that name key (group, member or
// user).
func history(t *testing.T, app *local.App, since time.Time, key string) []greep.Event {
	t.Helper()
	var out []greep.Event
	token := ""
	for {
		var page struct {
			Events        []greep.Event `json:"events"`
			NextPageToken string        `json:"nextPageToken"`
		}
		path := "/v1/history?maxResults=1000&since=" + url.QueryEscape(since.UTC().Format(time.RFC3339Nano))
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		getJSON(t, app, path, &page)
		for _, e := range page.Events {
			if strings.EqualFold(e.Group, key) || strings.EqualFold(e.Member, key) {
				out = append(out, e)
			}
		}
		if page.NextPageToken == "" {
			return out
		}
		token = page.NextPageToken
	}
}
