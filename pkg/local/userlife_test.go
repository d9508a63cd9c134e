package local_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// A user created, one renamed and one deleted in the Admin console reach Greep through the
// push channel (CREATE_USER, RENAME_USER, DELETE_USER → users.get): the directory has the
// new user, finds the renamed one by its old address too, and no longer has the deleted
// one; the member lists of their groups name them as Google does; and the history holds
// each event once with its actor.
func TestUserLifeThroughPush(t *testing.T) {
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.NoPush = false
	ctx := context.Background()
	app, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	waitSynced(t, app)
	until := func(what string, ok func() bool) {
		t.Helper()
		wait.For(t, 60*time.Second, what, ok)
	}
	until("watch channels", func() bool { return sim.Sim.Stats().Channels >= 2 })

	truth, _ := sim.Sim.Truth("")
	isUser := map[string]bool{}
	for _, u := range truth.Users {
		isUser[u.PrimaryEmail] = u.PrimaryEmail != sim.Sim.Admin() && u.PrimaryEmail != sim.Sim.Sentinel()
	}
	var renamed, renamedIn, deleted, deletedIn string
	for _, g := range truth.Groups {
		for _, m := range g.Members {
			switch {
			case !isUser[m.Email]:
			case renamed == "":
				renamed, renamedIn = m.Email, g.Email
			case deleted == "" && m.Email != renamed && g.Email != renamedIn:
				deleted, deletedIn = m.Email, g.Email
			}
		}
	}
	if deleted == "" {
		t.Fatal("the tenant has no two users in two groups")
	}
	d := sim.Sim.Domain()
	created, newName, helpdesk := "newcomer@"+d, "renamed-now@"+d, "helpdesk@"+d
	since := sim.Sim.Now().Add(-time.Second)
	if err := sim.Sim.Apply([]workspacesim.Mutation{
		{Op: "createUser", User: created, Actor: helpdesk},
		{Op: "renameUser", User: renamed, Email: newName, Actor: helpdesk},
		{Op: "deleteUser", User: deleted, Actor: helpdesk},
	}); err != nil {
		t.Fatal(err)
	}
	until("the created user in the directory", func() bool {
		_, err := app.Store.User(ctx, created)
		return err == nil
	})
	until("the renamed user found by its old address", func() bool {
		u, err := app.Store.User(ctx, renamed)
		return err == nil && u.PrimaryEmail == newName && slices.Contains(u.Aliases, renamed)
	})
	until("the deleted user gone", func() bool {
		_, err := app.Store.User(ctx, deleted)
		return errors.Is(err, greep.ErrNotFound)
	})
	members := func(group string) []string {
		g, err := app.Store.Group(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := app.Store.Members(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Email)
		}
		return out
	}
	until(renamedIn+" naming the renamed user by the new address", func() bool {
		ms := members(renamedIn)
		return slices.Contains(ms, newName) && !slices.Contains(ms, renamed)
	})
	until(deletedIn+" without the deleted user", func() bool { return !slices.Contains(members(deletedIn), deleted) })
	for _, w := range []struct{ event, member string }{
		{"CREATE_USER", created}, {"RENAME_USER", renamed}, {"DELETE_USER", deleted},
	} {
		var got []greep.Event
		for _, e := range history(t, app, since, w.member) {
			if e.Event == w.event {
				got = append(got, e)
			}
		}
		if len(got) != 1 || got[0].Actor != helpdesk {
			t.Errorf("%s of %s in /v1/history: %+v, want once by %s", w.event, w.member, got, helpdesk)
		}
	}
}
