package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Must-show 4, its second half: greep local with its embedded simulator, restarted with
// the same --data, keeps its token and push still works. It guards two fixes, each of
// which alone makes it fail (checked by disabling it):
//
//   - The token kept under --data (apiToken, token.go): without it every start draws a new
//     random token, the dashboard's cookie and every script break, and this test stops at
//     "the restart drew a new token" and at the old token's 401.
//   - The channels the restarted simulator does not know marked lost at start
//     (reports.Worker.ForgetLost, called by mountServices): the simulator comes back from
//     its seed on a new port knowing no channel, while the store still lists the old
//     ones as live until their expiry. Without the fix the status calls them live, no
//     channel is re-created (at ×10 the renewal comes 4.8 simulated hours, 29 wall
//     minutes, later), and the change made after the restart never arrives: the test
//     fails on the old channels still "live", then on no channel in the simulator.
func TestPushWorksAfterARestart(t *testing.T) {
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Workspace = ""
	cfg.SimUsers, cfg.SimGroups, cfg.SimSeed = 100, 20, 7
	cfg.TimeScale = 10
	cfg.QueuesFile = "../../queues.yaml"
	cfg.ResyncEvery = 0 // push alone must bring the change
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
	before := channelStates(t, app, token)
	if len(before) == 0 {
		t.Fatal("no channel in the status before the restart")
	}
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	app = start()
	defer app.Close(context.Background())
	if app.APIToken != token {
		t.Errorf("the restart drew a new token")
	}
	after := channelStates(t, app, token)
	for id := range before {
		if after[id] == "live" {
			t.Errorf("channel %s, unknown to the restarted simulator, is still called live", id)
		}
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
	wait.Until(t, 2*time.Minute, func() error {
		ms, err := app.Store.Members(context.Background(), g.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Email == "after-restart@outside.test" {
				return nil
			}
		}
		return fmt.Errorf("the change made after the restart has not reached the cache (sim stats %+v)", app.Sim.Stats())
	})
	t.Logf("change after the restart reached the cache in %v (wall)", time.Since(changed))
}

// channelStates reads /v1/status with token (the start's own, whatever it is): each
// channel's state by id.
func channelStates(t *testing.T, app *local.App, token string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/v1/status with the token of the first start: %s", res.Status)
	}
	var st struct {
		Channels []struct{ ID, State string } `json:"channels"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range st.Channels {
		out[c.ID] = c.State
	}
	return out
}

// waitChannels waits until sim holds a watch channel for each watched application: a
// change made while only one is live, and announced on the other, is never pushed; a test
// would see it only through the reconciliation, late and not provisional.
func waitChannels(t *testing.T, sim *workspacesim.Sim) {
	t.Helper()
	wait.For(t, 2*time.Minute, "a watch channel for each application in the simulator", func() bool { return sim.Stats().Channels >= 2 })
}
