package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/truthdiff"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The end-to-end tests run greep local as a library against a simulator the test owns
// (so it outlives a killed App), on a clock 200× faster than the wall clock.
const timeScale = 200

func startSim(t *testing.T, groups int) *workspacesim.Server {
	t.Helper()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 300, Groups: groups, Seed: 42, TimeScale: timeScale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func config(sim *workspacesim.Server, dataDir string) local.Config {
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.APIToken = "test-token"
	cfg.Workspace = sim.URL
	cfg.SimClock = sim.Sim.Now
	cfg.AdminSubject = sim.Sim.Admin()
	cfg.TimeScale = timeScale
	cfg.QueuesFile = "../../queues.yaml"
	cfg.ResyncEvery = 0
	cfg.NoPush, cfg.NoRemediation = true, true
	return cfg
}

// waitSynced waits until the App's sweep is finished.
func waitSynced(t *testing.T, app *local.App) syncplan.Progress {
	t.Helper()
	ctx := context.Background()
	var p syncplan.Progress
	wait.Until(t, 90*time.Second, func() error {
		got, s, err := app.Directory.Progress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The sweep document closes before the status document says idle: wait for both.
		var st greep.SyncState
		if _, err := greep.LoadState(ctx, app.Store, greep.StateSync, &st); err != nil {
			t.Fatal(err)
		}
		if s.Generation > 0 && !s.Running() && st.State == "idle" {
			p = got
			return nil
		}
		return fmt.Errorf("the sync has not finished: sweep %+v, status %q", s, st.State)
	})
	return p
}

func assertTruth(t *testing.T, sim *workspacesim.Sim, store greep.GroupStore) workspacesim.Truth {
	t.Helper()
	truth, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := truthdiff.Diff(context.Background(), store, truth, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	return truth
}

func plannedCalls(truth workspacesim.Truth) map[string]int64 {
	var gs []greep.Group
	for _, g := range truth.Groups {
		gs = append(gs, greep.Group{ID: g.ID, DirectMembersCount: g.DirectMembersCount})
	}
	return syncplan.FullSyncCalls(gs, len(truth.Users))
}

// groups is the test tenant's size: 250 groups (two groups.list pages, a multi-page
// member list, empty groups) keep each test within seconds, as every task commits several
// bbolt transactions, each an fsync. BenchmarkLocalFullSync runs the 2,000-group tenant.
func groups(t *testing.T) int {
	if testing.Short() {
		return 120
	}
	return 250
}

func TestLocalSyncsToTruthWithPlannedCalls(t *testing.T) {
	sim := startSim(t, groups(t))
	app, err := local.Start(context.Background(), config(sim, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	waitSynced(t, app)

	truth := assertTruth(t, sim.Sim, app.Store)
	st := sim.Sim.Stats()
	for method, n := range plannedCalls(truth) {
		if st.Calls[method] != n {
			t.Errorf("%s: %d calls, the plan predicts %d", method, st.Calls[method], n)
		}
	}
	if st.Rejected != (workspacesim.Rejected{}) {
		t.Errorf("rejected calls: %+v", st.Rejected)
	}

	// The read API on the same port shows the cache.
	var status struct {
		Sync struct {
			State  string `json:"state"`
			Groups int64  `json:"groups"`
		} `json:"sync"`
		Queues map[string]greep.QueueStat `json:"queues"`
	}
	getJSON(t, app, "/v1/status", &status)
	if status.Sync.State != "idle" || status.Sync.Groups != int64(len(truth.Groups)) || len(status.Queues) == 0 {
		t.Errorf("/v1/status: %+v", status)
	}
	var members struct {
		Members []greep.Member `json:"members"`
	}
	g := truth.Groups[0]
	getJSON(t, app, "/v1/groups/"+g.Email+"/members?maxResults=1000", &members)
	if len(members.Members) != len(g.Members) {
		t.Errorf("/v1/groups/%s/members: %d members, want %d", g.Email, len(members.Members), len(g.Members))
	}
}

func getJSON(t *testing.T, app *local.App, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+app.APIToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func TestKilledMidSyncResumes(t *testing.T) {
	sim := startSim(t, groups(t))
	dir := t.TempDir()
	cfg := config(sim, dir)
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Kill once about a third of the groups are done.
	wait.Until(t, 90*time.Second, func() error {
		p, _, err := app.Directory.Progress(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.Done*4 < int64(groups(t)) {
			return fmt.Errorf("%d of %d groups done", p.Done, groups(t))
		}
		t.Logf("killing at %+v", p)
		return nil
	})
	if err := app.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := sim.Sim.Stats().Calls

	app, err = local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	p := waitSynced(t, app)
	if p.Done != p.Total {
		t.Errorf("progress after the restart: %+v", p)
	}
	truth := assertTruth(t, sim.Sim, app.Store)

	var planned, made int64
	for method, n := range plannedCalls(truth) {
		planned += n
		made += sim.Sim.Stats().Calls[method]
	}
	// Calls in flight when the process died are made again; nothing else is.
	extra := made - planned
	t.Logf("planned %d calls, made %d (%d before the kill)", planned, made, sum(killedAt))
	if extra < 0 || extra > 50 {
		t.Errorf("a killed and resumed sync made %d calls, %d more than one uninterrupted sync", made, extra)
	}
	if st := sim.Sim.Stats(); st.Rejected != (workspacesim.Rejected{}) {
		t.Errorf("rejected calls: %+v", st.Rejected)
	}
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

func TestPushedChangeReachesTheCache(t *testing.T) {
	// Everything on: watch channels, the webhook, debounced refreshes, the settings sweep.
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
	waitChannels(t, sim.Sim)
	truth, _ := sim.Sim.Truth("")
	g := truth.Groups[0]
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "pushed@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, 30*time.Second, func() error {
		ms, err := app.Store.Members(context.Background(), g.ID)
		if err != nil {
			return err
		}
		found := false
		for _, m := range ms {
			found = found || m.Email == "pushed@outside.test"
		}
		// The change shows at once, provisionally; the refresh then confirms it.
		if found && sim.Sim.Stats().Calls["directory.groups.get"] >= 1 {
			return nil
		}
		return fmt.Errorf("the pushed change was not refreshed into the cache (found %v, sim stats %+v)", found, sim.Sim.Stats())
	})
}

// BenchmarkLocalFullSync is must-show 1 at 2,000 groups: greep local syncs the tenant to a
// cache equal to the truth with exactly the planned calls and no quota error. Run with
// go test -bench LocalFullSync -benchtime 1x ./pkg/local (about a minute and a half).
func BenchmarkLocalFullSync(b *testing.B) {
	for i := 0; i < b.N; i++ {
		srv, err := workspacesim.Start(workspacesim.Config{Users: 1000, Groups: 2000, Seed: 42, TimeScale: 1})
		if err != nil {
			b.Fatal(err)
		}
		cfg := local.Defaults()
		cfg.Addr, cfg.DataDir, cfg.APIToken = "127.0.0.1:0", b.TempDir(), "bench"
		cfg.Workspace, cfg.SimClock, cfg.AdminSubject = srv.URL, srv.Sim.Now, srv.Sim.Admin()
		cfg.QueuesFile, cfg.ResyncEvery, cfg.NoPush, cfg.NoRemediation = "../../queues.yaml", 0, true, true
		app, err := local.Start(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		wait.For(b, 10*time.Minute, "the sync to finish", func() bool {
			_, s, err := app.Directory.Progress(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			return s.Generation > 0 && !s.Running()
		})
		truth, _ := srv.Sim.Truth("")
		diffs, err := truthdiff.Diff(context.Background(), app.Store, truth, 5)
		if err != nil || len(diffs) > 0 {
			b.Fatalf("cache differs from the truth: %v %v", diffs, err)
		}
		st := srv.Sim.Stats()
		for method, n := range plannedCalls(truth) {
			if st.Calls[method] != n {
				b.Errorf("%s: %d calls, planned %d", method, st.Calls[method], n)
			}
		}
		if st.Rejected != (workspacesim.Rejected{}) {
			b.Errorf("rejected: %+v", st.Rejected)
		}
		p, _, _ := app.Directory.Progress(context.Background())
		b.ReportMetric(float64(p.Calls)/p.Elapsed().Seconds(), "calls/simulated-s")
		app.Close(context.Background())
		srv.Close()
	}
}

func TestResyncFindsAMutationWithoutPush(t *testing.T) {
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.ResyncEvery, cfg.MaxAge = 10*time.Minute, 24*time.Hour // 3 s of wall time at ×200
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	waitSynced(t, app)
	truth, _ := sim.Sim.Truth("")
	var g workspacesim.TruthGroup
	for _, c := range truth.Groups {
		if c.DirectMembersCount > 0 {
			g = c
			break
		}
	}
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "removeMember", Group: g.Email, Member: g.Members[0].Email}}); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, 30*time.Second, func() error {
		ms, err := app.Store.Members(context.Background(), g.ID)
		if err == nil && len(ms) != len(g.Members)-1 {
			err = fmt.Errorf("no resync brought the removal in: %d members cached", len(ms))
		}
		return err
	})
	if n := sim.Sim.Stats().Calls["directory.groups.get"]; n != 0 {
		t.Errorf("%d groups.get calls: with push off, only the resync (groups.list) should find it", n)
	}
	assertTruth(t, sim.Sim, app.Store)
}

// TestRestartResumesTheSettingsSweep: a restart keeps the settings sweep that was started
// (its slices are queued durably) instead of beginning another, which would read every
// group's settings again.
func TestRestartResumesTheSettingsSweep(t *testing.T) {
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.NoRemediation = false
	cfg.Rules = "../../deploy/remediation.yaml"
	sweep := func(app *local.App) remediation.SweepState {
		var sw remediation.SweepState
		if _, err := greep.LoadState(context.Background(), app.Store, remediation.StateSweep, &sw); err != nil {
			t.Fatal(err)
		}
		return sw
	}
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the sweep has queued reads: one killed before its first slice is started
	// again on purpose.
	wait.For(t, 90*time.Second, "a settings sweep under way after the first sync", func() bool {
		return sweep(app).Enqueued > 0
	})
	first := sweep(app)
	if err := app.Kill(); err != nil {
		t.Fatal(err)
	}
	app, err = local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	// The restarted loop decides first thing whether a sweep is due. Rather than guess
	// how long that takes, wait for work that comes after it: the resumed sweep's slices
	// all queued (or another sweep begun), then every task due so far run.
	wait.Until(t, 90*time.Second, func() error {
		if got := sweep(app); !got.Done && got.RunID == first.RunID {
			return fmt.Errorf("the resumed sweep has not queued its last slice: %+v", got)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := app.Dispatcher.WaitIdle(ctx); err != nil {
		t.Fatalf("queues never idle after the restart: %v", err)
	}
	if got := sweep(app); got.RunID != first.RunID {
		t.Errorf("the restart began sweep %s; want the first one (%s) resumed", got.RunID, first.RunID)
	}
}

// waitSim waits until ok holds, failing with what and the simulator's figures.
func waitSim(t *testing.T, limit time.Duration, sim *workspacesim.Sim, what string, ok func() bool) {
	t.Helper()
	wait.Until(t, limit, func() error {
		if !ok() {
			return fmt.Errorf("%s (sim stats %+v)", what, sim.Stats())
		}
		return nil
	})
}
