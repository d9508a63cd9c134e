package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/bench"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/workspacesim"
)

// kills is how many times greep local is killed before the run that must converge: the
// first ones while the full sync runs, the others while the remediation run patches.
const (
	kills     = 5
	syncKills = 3
)

// The real greep binary, killed with SIGKILL at seeded random points of a full sync and of
// a remediation run, five times, restarted each time on the same --data: every queued task
// survives (the sync finishes, every unsafe group is patched), no patch is applied twice,
// the store file of each killed process reopens cleanly with what it had committed, and
// after a clean stop the store equals the truth.
func TestKilledGreepLocalConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the greep binary and runs it six times")
	}
	groups := 100
	seed := uint64(1)
	if v := os.Getenv("FAULTTEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULTTEST_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (FAULTTEST_SEED=%d reproduces the kill delays)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	s := startSim(t, workspacesim.Config{Users: groups / 2, Groups: groups, Seed: 3, TimeScale: timeScale})
	rulesPath, rc := rulesFile(t)
	before, err := s.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	want := unsafeGroups(t, rc, before, s.Sim.Now())
	if len(want) < 5 {
		t.Fatalf("the tenant has only %d unsafe groups; pick another seed", len(want))
	}
	pc := newProcConfig(t, s, rulesPath)
	pc.queues = slowDirectory(t, pc.queues)
	start := time.Now()

	killed := map[int64]bool{}
	var midSync, midRemediation int
	for i := 0; i < kills; i++ {
		s.Writes.epoch.Store(int64(i))
		readsAtStart := s.Sim.Stats().Calls["groupssettings.groups.get"]
		p := pc.start(t)
		maxDelay := time.Second
		if i >= syncKills {
			// Into the remediation run: the settings sweep has begun reading (a restart
			// resumes the sweep it had, so once every group was read there is no new read
			// to wait for).
			eventually(t, converge, "the settings sweep under way", func() (bool, string) {
				n := s.Sim.Stats().Calls["groupssettings.groups.get"]
				return n > readsAtStart || n >= int64(groups), "no settings read yet"
			})
			maxDelay = 600 * time.Millisecond
		}
		delay := time.Duration(rng.Int64N(int64(maxDelay)))
		time.Sleep(delay)

		var st status
		_ = p.get("/v1/status", &st)
		committed, err := p.groupIDs()
		if err != nil {
			t.Fatalf("listing groups before kill %d: %v", i+1, err)
		}
		patched := changedGroups(s.Writes.snapshot())
		p.kill(t)
		killed[int64(i)] = true

		var phase string
		switch {
		case st.Sync.LastFullSyncAt == nil:
			midSync++
			phase = fmt.Sprintf("full sync at %d/%d groups", st.Sync.GroupsDone, st.Sync.GroupsTotal)
		case patched < len(want):
			midRemediation++
			phase = fmt.Sprintf("remediation at %d/%d unsafe groups patched", patched, len(want))
		default:
			phase = "after the remediation run"
		}
		t.Logf("kill %d, %v after the start: %s; %d groups served (%.1fs into the test)", i+1, delay.Round(time.Millisecond), phase, len(committed), time.Since(start).Seconds())
		t.Run(fmt.Sprintf("store reopens after kill %d", i+1), func(t *testing.T) {
			checkReopens(t, filepath.Join(pc.dataDir, "greep.db"), committed)
		})
	}
	if midSync == 0 || midRemediation == 0 {
		t.Errorf("kills: %d mid-sync, %d mid-remediation; want both (the log of greep local: %s)", midSync, midRemediation, pc.logPath)
	}

	// The last run must finish everything the killed ones left queued.
	s.Writes.epoch.Store(kills)
	p := pc.start(t)
	quiet := 0
	eventually(t, converge, "convergence after the kills", func() (bool, string) {
		var st status
		if err := p.get("/v1/status", &st); err != nil {
			return false, err.Error()
		}
		if st.Sync.LastFullSyncAt == nil || st.Sync.State != "idle" {
			quiet = 0
			return false, fmt.Sprintf("sync %s at %d/%d", st.Sync.State, st.Sync.GroupsDone, st.Sync.GroupsTotal)
		}
		now, err := s.Sim.Truth("")
		if err != nil {
			return false, err.Error()
		}
		if left := unsafeGroups(t, rc, now, s.Sim.Now()); len(left) > 0 {
			quiet = 0
			return false, fmt.Sprintf("%d groups still unsafe", len(left))
		}
		for name, q := range st.Queues {
			if q.Backlog > 0 {
				quiet = 0
				return false, name + " has a backlog"
			}
		}
		quiet++
		return quiet >= 10, "queues empty for a moment only"
	})
	converged := time.Since(start)
	p.stop(t)
	took := time.Since(start)
	t.Logf("converged %.1fs into the test, stopped at %.1fs", converged.Seconds(), took.Seconds())

	store, err := bolt.Open(filepath.Join(pc.dataDir, "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	truth, err := s.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := bench.Diff(ctx, store, truth, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("the store after the kills differs from the truth: %s", describe(diffs))
	}
	pr := patchReport(t, want, s.Writes.snapshot(), killed)
	// A patch sent twice within one run is no kill's doing: it was once a settings read
	// answered before a patch and stored after it (docs/faults.md, "Found").
	for _, r := range pr.Resent {
		t.Error(r)
	}
	fixed, err := findingsFixed(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for g := range want {
		if fixed[g] == 0 {
			t.Errorf("%s: patched, but no finding of it says fixed", g)
		}
	}
	st := s.Sim.Stats()
	t.Logf("%d groups, %d unsafe: %d patched once each; patches re-sent changing nothing: %d after a kill, %d within a run; %d kills (%d mid-sync, %d mid-remediation); calls %v; %.1fs wall",
		groups, len(want), pr.Patched, pr.ResentAfterKill, len(pr.Resent), kills, midSync, midRemediation, st.Calls, took.Seconds())
}

// changedGroups counts the groups whose settings a write has changed.
func changedGroups(writes map[string][]write) int {
	n := 0
	for _, ws := range writes {
		for _, w := range ws {
			if w.changed {
				n++
				break
			}
		}
	}
	return n
}

// slowDirectory writes a copy of queues.yaml whose Directory short window is 200 times
// smaller, so the full sync lasts seconds even on an idle machine at the test's time scale
// and the sync kills land inside it rather than after it (on an idle machine the shipped
// rates finish 100 groups within the first kill's delay).
func slowDirectory(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const from, to = "  directory:\n    shortWindow: {limit: 2400, per: 1m}", "  directory:\n    shortWindow: {limit: 12, per: 1m}"
	if !bytes.Contains(b, []byte(from)) {
		t.Fatalf("%s no longer holds %q; update this test", path, from)
	}
	slow := filepath.Join(t.TempDir(), "queues.yaml")
	if err := os.WriteFile(slow, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return slow
}
