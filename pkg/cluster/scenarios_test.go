package cluster_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cluster"
	"github.com/greephq/greep/pkg/faults"
)

// The services' binaries, built once for every test of the package.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		top, err := cluster.LoadTopology("../..")
		if err != nil {
			buildErr = err
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "greep-cluster-bin-"); buildErr == nil {
			buildErr = cluster.Build(context.Background(), top, binDir)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// needEmulator skips a test that starts the Datastore emulator when gcloud is missing,
// and fails it under CI, as the other Datastore tests do.
func needEmulator(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: greep cluster's scenarios build and run every service")
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gcloud (the Datastore emulator) is missing under CI: greep cluster's scenarios need it")
		}
		t.Skip("gcloud is missing: greep cluster's scenarios need the Datastore emulator (gcloud components install cloud-datastore-emulator)")
	}
}

// scenarioConfig is the scenarios' cluster; GREEP_EMULATOR=firestore runs it on the
// Firestore emulator in Datastore mode, which locks as production's database does
// (scripts/with-datastore-emulator.sh reads the same variable).
func scenarioConfig(t *testing.T) faults.ClusterConfig {
	return faults.ClusterConfig{
		Config:   faults.Config{Users: 80, Groups: 100, Seed: 1, TempDir: t.TempDir(), Logf: t.Logf},
		Root:     "../..",
		Binaries: binaries(t),
		Emulator: os.Getenv("GREEP_EMULATOR"),
	}
}

func report(t *testing.T, r *faults.Report, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d groups, %d calls, cache equals truth %v, %.1fs wall; cluster %+v", r.Scenario, r.Groups, r.TotalCalls, r.CacheEqualsTruth, r.WallSeconds, *r.Cluster)
	for _, p := range r.Problems {
		t.Error(p)
	}
	if len(r.Problems) > 0 && r.KeptIn != "" {
		t.Log("kept: " + r.KeptIn)
	}
}

// Under greep cluster: the full sync makes the cache equal the truth, a pushed change
// shows through the front within the debounce plus seconds, and /v1/status answers.
func TestClusterSync(t *testing.T) {
	needEmulator(t)
	r, err := faults.ClusterSync(context.Background(), scenarioConfig(t))
	report(t, r, err)
	if err == nil && r.Cluster.PushVisibleSeconds == 0 {
		t.Error("the pushed change was not measured")
	}
}

// The kill scenarios against the cluster, every task delivered twice besides: each unsafe
// group patched exactly once, the interrupted sync finished, the cache equal the truth.
func TestClusterKills(t *testing.T) {
	needEmulator(t)
	c := scenarioConfig(t)
	c.DeliverTwice = true
	r, err := faults.ClusterKills(context.Background(), c)
	report(t, r, err)
	if err == nil && (r.Kills.MidSync == 0 || r.Kills.MidRemediation == 0 || r.Cluster.DatastoreRestarts == 0) {
		t.Errorf("kills %+v, Datastore restarts %d", *r.Kills, r.Cluster.DatastoreRestarts)
	}
}

// A service that fails to start (here on a missing rules file) stops the whole cluster,
// with the end of its log: no process it started is left.
func TestServiceFailingToStartStopsTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds every service")
	}
	bins := binaries(t)
	_, err := cluster.Start(context.Background(), cluster.Config{
		Root: "../..", Addr: "127.0.0.1:0", APIToken: "t", SimUsers: 10, SimGroups: 5, Binaries: bins,
		// Nothing listens there; no service connects before its first request.
		DatastoreHost: "127.0.0.1:9",
		Env:           map[string]string{"GREEP_RULES": filepath.Join(t.TempDir(), "missing.yaml")},
		WorkDir:       t.TempDir(),
	})
	// Remediation and groupssettings both read the rules: either fails first.
	if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("got %v, want a service's failure with its log's end", err)
	}
	if left := children(os.Getpid()); len(left) > 0 {
		t.Errorf("processes left running after the failed start: %v", left)
	}
}

// A service that exits later without being told to (here SIGKILLed from outside the
// cluster) is reported with the end of its log, and Close then leaves no process behind.
func TestServiceExitingLaterIsReported(t *testing.T) {
	needEmulator(t)
	// The default service reads the store before it answers: the emulator of
	// scripts/with-datastore-emulator.sh when there is one, else one of the cluster's own.
	c, err := cluster.Start(context.Background(), cluster.Config{
		Root: "../..", Addr: "127.0.0.1:0", APIToken: "t", SimUsers: 10, SimGroups: 5, Binaries: binaries(t),
		DatastoreHost: os.Getenv("DATASTORE_EMULATOR_HOST"), Project: os.Getenv("DATASTORE_PROJECT_ID"), WorkDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()
	var pid int
	for _, p := range children(os.Getpid()) {
		if strings.Contains(p, "(push)") {
			pid, _ = strconv.Atoi(strings.Fields(p)[0])
		}
	}
	if pid == 0 {
		t.Fatalf("no push process among %v", children(os.Getpid()))
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.Failed():
		if !strings.Contains(err.Error(), "push exited") || !strings.Contains(err.Error(), "the end of its log") {
			t.Errorf("got %v, want push's exit with the end of its log", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the killed service was not reported within 2 minutes")
	}
	closed = true
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if left := children(os.Getpid()); len(left) > 0 {
		t.Errorf("processes left running after Close: %v", left)
	}
}

// children lists the live processes whose parent is pid.
func children(pid int) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, e.Name()+" "+s[:strings.LastIndexByte(s, ')')+1])
		}
	}
	return out
}
