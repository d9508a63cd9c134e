package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// v1Member is a member entry of /v1 with the provisional fields.
type v1Member struct {
	Email       string `json:"email"`
	ID          string `json:"id"`
	Provisional bool   `json:"provisional"`
	ActivityID  string `json:"activityId"`
}

func findMember(t *testing.T, app *local.App, path, email string) (v1Member, bool) {
	var page struct {
		Members []v1Member `json:"members"`
	}
	getJSON(t, app, path, &page)
	for _, m := range page.Members {
		if m.Email == email {
			return m, true
		}
	}
	return v1Member{}, false
}

// TestPushedChangeIsVisibleBeforeTheRead: through greep local's own wiring, a member added
// at the simulator shows in /v1 as provisional, with its activity id, while the refresh
// still waits out its debounce (an hour here, and no Directory call made yet); the
// Directory-compatible surface shows Google's shape. Once the debounce fires, the read
// confirms it: the flag goes, the member has Google's id, and the feed holds both steps.
func TestPushedChangeIsVisibleBeforeTheRead(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.NoPush = false
	cfg.Debounce = time.Hour
	app, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	waitSynced(t, app)
	waitChannels(t, sim.Sim)

	truth, _ := sim.Sim.Truth("")
	g := truth.Groups[0]
	const member = "pushed@outside.test"
	membersPath := "/v1/groups/" + g.Email + "/members?maxResults=200"
	_, since, err := app.Store.Changes(ctx, greep.ChangeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	gets := sim.Sim.Stats().Calls["directory.groups.get"]
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: member}}); err != nil {
		t.Fatal(err)
	}

	var seen v1Member
	wait.Until(t, time.Minute, func() error {
		m, ok := findMember(t, app, membersPath, member)
		if !ok {
			return fmt.Errorf("%s not in /v1 yet", member)
		}
		seen = m
		return nil
	})
	if !seen.Provisional || seen.ActivityID == "" {
		t.Fatalf("the pushed member in /v1 before the read: %+v, want provisional with its activity id", seen)
	}
	if n := sim.Sim.Stats().Calls["directory.groups.get"]; n != gets {
		t.Fatalf("%d refreshes ran before the member showed: the debounce fired first", n-gets)
	}
	var raw map[string]json.RawMessage
	var dir struct {
		Members []map[string]json.RawMessage `json:"members"`
	}
	getJSON(t, app, "/admin/directory/v1/groups/"+g.Email+"/members?maxResults=200", &dir)
	for _, m := range dir.Members {
		if string(m["email"]) == `"`+member+`"` {
			raw = m
		}
	}
	if raw == nil || raw["provisional"] != nil || raw["activityId"] != nil {
		t.Fatalf("Directory-compatible entry %v: want the member in Google's shape only", raw)
	}

	// The debounce fires (the clock jumps past it) and Google's read confirms.
	sim.Sim.Advance(time.Hour)
	var confirmed v1Member
	wait.Until(t, 2*time.Minute, func() error {
		m, ok := findMember(t, app, membersPath, member)
		if !ok || m.Provisional {
			return fmt.Errorf("%s not confirmed yet: %+v", member, m)
		}
		confirmed = m
		return nil
	})
	if confirmed.ID == "" {
		t.Fatalf("confirmed member %+v: want Google's id", confirmed)
	}
	cs, _, err := app.Store.Changes(ctx, greep.ChangeQuery{Since: since, Group: g.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, c := range cs {
		if c.Member == member {
			steps = append(steps, fmt.Sprintf("%s provisional=%v %v", c.Kind, c.Provisional, c.ActivityID == seen.ActivityID))
		}
	}
	if want := []string{"added provisional=true true", "confirmed provisional=false true"}; fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Fatalf("feed of %s: %q, want %q", member, steps, want)
	}
	assertTruth(t, sim.Sim, app.Store)
}
