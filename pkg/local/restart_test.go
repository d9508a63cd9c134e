package local_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Must-show 4, its second half: greep local with its embedded simulator, restarted with
// the same --data, keeps its token and push still works. The new simulator comes back from
// its seed on a new port, knowing none of the old channels: they must not stay "live",
// and a change made after the restart must reach the cache by push (the resync is off).
func TestPushWorksAfterARestart(t *testing.T) {
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Workspace = ""
	cfg.SimUsers, cfg.SimGroups, cfg.SimSeed = 100, 20, 7
	// At ×10 the old channels would be renewed only after 4.8 simulated hours (29 wall
	// minutes), far past the deadline below: only their re-creation at start passes.
	cfg.TimeScale = 10
	cfg.QueuesFile = "../../queues.yaml"
	cfg.ResyncEvery = 0
	cfg.NoRemediation = true
	cfg.Debounce = 2 * time.Second // simulated: 200 ms of wall time
	start := func() *local.App {
		t.Helper()
		app, err := local.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	app := start()
	waitSynced(t, app)
	waitChannels(t, app.Sim)
	token := app.APIToken
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	app = start()
	defer app.Close(context.Background())
	if app.APIToken != token {
		t.Fatalf("the restart drew a new token")
	}
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the kept token after the restart: %s", res.Status)
	}
	waitChannels(t, app.Sim)

	truth, err := app.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	g := truth.Groups[0]
	changed := time.Now()
	if err := app.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "after-restart@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	// Generous for a loaded machine; the figure logged is what it took.
	deadline := changed.Add(2 * time.Minute)
	for {
		ms, err := app.Store.Members(context.Background(), g.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range ms {
			found = found || m.Email == "after-restart@outside.test"
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change made after the restart did not reach the cache (sim stats %+v)", app.Sim.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("change after the restart reached the cache in %v (wall)", time.Since(changed))
}

// waitChannels waits until sim holds a watch channel for each watched application.
func waitChannels(t *testing.T, sim *workspacesim.Sim) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for sim.Stats().Channels < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no watch channels in the simulator (%+v)", sim.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
