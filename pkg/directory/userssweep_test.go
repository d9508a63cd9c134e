package directory_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The users sweep runs a day after the full sync (not before), one users.list page per
// task: it brings in a suspension no event announced, queues the evaluation of the
// suspended user's groups, and drops a user Google no longer lists.
func TestUsersSweepDaily(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 700, Groups: 40, Seed: 5}, syncplan.Resync{})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	usersList := func() int64 { return e.sim.Stats().Calls["directory.users.list"] }
	afterSync := usersList()
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if n := usersList() - afterSync; n != 0 {
		t.Fatalf("a resync right after the full sync listed the users (%d calls)", n)
	}

	truth, _ := e.sim.Truth("")
	var user string
	var groups []string
	for _, g := range truth.Groups {
		for _, m := range g.Members {
			if m.Type == "USER" && m.Status == "ACTIVE" && m.Email != e.sim.Admin() && (user == "" || m.Email == user) && slices.ContainsFunc(truth.Users, func(u workspacesim.TruthUser) bool { return u.PrimaryEmail == m.Email }) {
				user = m.Email
				groups = append(groups, g.Email)
			}
		}
	}
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "suspendUser", User: user}}); err != nil {
		t.Fatal(err)
	}
	ghost := greep.User{ID: "ghost", PrimaryEmail: "ghost@" + e.sim.Domain(), SyncedAt: e.sim.Now()}
	if err := e.store.PutUsers(ctx, []greep.User{ghost}); err != nil {
		t.Fatal(err)
	}

	e.sim.Advance(directory.UsersSweepEvery + time.Minute)
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if n, want := usersList()-afterSync, int64((len(truth.Users)+syncplan.UsersPageSize-1)/syncplan.UsersPageSize); n != want {
		t.Errorf("the users sweep made %d users.list calls, want %d (one a page)", n, want)
	}
	if u, err := e.store.User(ctx, user); err != nil || !u.Suspended {
		t.Errorf("the swept user %s: %+v, %v; want suspended", user, u, err)
	}
	if _, err := e.store.User(ctx, ghost.ID); !errorsIsNotFound(err) {
		t.Errorf("a user Google no longer lists is still in the directory: %v", err)
	}
	var evaluated []string
	for _, task := range e.q.evaluations {
		var ev tasks.Evaluate
		if err := json.Unmarshal(task.Body, &ev); err != nil {
			t.Fatal(err)
		}
		evaluated = append(evaluated, ev.Group)
	}
	slices.Sort(evaluated)
	slices.Sort(groups)
	if !slices.Equal(evaluated, groups) {
		t.Errorf("evaluations queued for %v, want the suspended user's groups %v", evaluated, groups)
	}
}
