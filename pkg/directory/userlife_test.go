package directory_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/workspacesim"
)

// A user created, one renamed and one deleted with no event reaching Greep: the daily
// users sweep brings the directory and the member lists to Google's (the renamed user
// found by its old address too, its groups naming it by the new one), and records each
// change in the history once, with the cause resync and no actor.
func TestUsersSweepCreateRenameDelete(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 60, Groups: 30, Seed: 5}, syncplan.Resync{})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	truth, _ := e.sim.Truth("")
	isUser := func(email string) bool {
		return slices.ContainsFunc(truth.Users, func(u workspacesim.TruthUser) bool { return u.PrimaryEmail == email })
	}
	var renamed, deleted string
	for _, g := range truth.Groups {
		for _, m := range g.Members {
			if m.Type != "USER" || !isUser(m.Email) || m.Email == e.sim.Admin() || m.Email == e.sim.Sentinel() {
				continue
			}
			switch {
			case renamed == "":
				renamed = m.Email
			case deleted == "" && m.Email != renamed:
				deleted = m.Email
			}
		}
	}
	d := e.sim.Domain()
	created, newName := "created@"+d, "renamed-now@"+d
	if err := e.sim.Apply([]workspacesim.Mutation{
		{Op: "createUser", User: created},
		{Op: "renameUser", User: renamed, Email: newName},
		{Op: "deleteUser", User: deleted},
	}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(directory.UsersSweepEvery + time.Minute)
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()

	if u, err := e.store.User(ctx, created); err != nil || u.PrimaryEmail != created {
		t.Errorf("the created user: %+v, %v", u, err)
	}
	for _, key := range []string{newName, renamed} {
		if u, err := e.store.User(ctx, key); err != nil || u.PrimaryEmail != newName || !slices.Contains(u.Aliases, renamed) {
			t.Errorf("the renamed user by %s: %+v, %v; want %s with the old address as an alias", key, u, err, newName)
		}
	}
	if _, err := e.store.User(ctx, deleted); !errorsIsNotFound(err) {
		t.Errorf("the deleted user is still in the directory: %v", err)
	}
	e.assertTruth(t) // member lists: the new address, the deleted user gone

	events, _, err := e.store.Events(ctx, greep.EventQuery{Page: greep.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]greep.Event{}
	for _, ev := range events {
		if ev.Group == "" {
			got[ev.Event] = append(got[ev.Event], ev)
		}
	}
	for _, w := range []struct{ event, member, newValue string }{
		{"CREATE_USER", created, ""},
		{"RENAME_USER", renamed, newName},
		{"DELETE_USER", deleted, ""},
	} {
		evs := got[w.event]
		if len(evs) != 1 || evs[0].Member != w.member || evs[0].NewValue != w.newValue || evs[0].Cause != greep.CauseResync || evs[0].Actor != "" {
			t.Errorf("%s in the history: %+v; want one of %s (new value %q), cause resync, no actor", w.event, evs, w.member, w.newValue)
		}
	}
	if n := len(got["SUSPEND_USER"]) + len(got["UNSUSPEND_USER"]); n != 0 {
		t.Errorf("%d status events for users whose status did not change", n)
	}
}
