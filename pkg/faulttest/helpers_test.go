package faulttest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/bench"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/workspacesim"
)

// timeScale runs the simulated clock (and so queue rates, backoffs, debounce) this many
// times faster than the wall clock.
const timeScale = 200

// converge bounds every wait for an outcome: generous, since two busy cores and the race
// detector slow everything; a test that converges returns as soon as it does.
const converge = 60 * time.Second

// simServer is a simulator the test owns (so it outlives a killed Greep), served through a
// recorder of settings writes.
type simServer struct {
	URL    string
	Sim    *workspacesim.Sim
	Writes *writeLog
}

func startSim(t *testing.T, cfg workspacesim.Config) *simServer {
	t.Helper()
	sim, err := workspacesim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &writeLog{sim: sim, next: sim, byGroup: map[string][]write{}}
	srv := httptest.NewServer(w)
	t.Cleanup(func() {
		srv.Close()
		sim.Close()
	})
	return &simServer{URL: srv.URL, Sim: sim, Writes: w}
}

// write is one Groups Settings PATCH or PUT the simulator answered.
type write struct {
	epoch   int64 // which run of Greep sent it (the test moves the epoch at each restart)
	status  int
	changed bool // the group's true settings differ after it
}

// writeLog records every settings write per group, with whether it changed anything: the
// simulator's call counter counts attempts (injected failures included), this says which
// patch was applied and which one re-sent a value already there.
type writeLog struct {
	sim   *workspacesim.Sim
	next  http.Handler
	epoch atomic.Int64

	mu      sync.Mutex
	byGroup map[string][]write
}

const settingsPath = "/groups/v1/groups/"

func (l *writeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (r.Method != http.MethodPatch && r.Method != http.MethodPut) || !strings.HasPrefix(r.URL.Path, settingsPath) {
		l.next.ServeHTTP(w, r)
		return
	}
	group, err := url.PathUnescape(strings.TrimPrefix(r.URL.Path, settingsPath))
	if err != nil {
		group = r.URL.Path
	}
	group = strings.ToLower(group)
	before := l.settings(group)
	rec := &statusWriter{ResponseWriter: w}
	l.next.ServeHTTP(rec, r)
	after := l.settings(group)
	l.mu.Lock()
	l.byGroup[group] = append(l.byGroup[group], write{epoch: l.epoch.Load(), status: rec.status, changed: !maps.Equal(before, after)})
	l.mu.Unlock()
}

func (l *writeLog) settings(group string) map[string]string {
	tr, err := l.sim.Truth(group)
	if err != nil || len(tr.Groups) == 0 {
		return nil
	}
	return maps.Clone(tr.Groups[0].Settings)
}

func (l *writeLog) snapshot() map[string][]write {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]write, len(l.byGroup))
	for g, ws := range l.byGroup {
		out[g] = append([]write(nil), ws...)
	}
	return out
}

// statusWriter keeps the status sent; 0 when nothing was (an answer cut off).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// rulesFile writes the shipped rules with a run cap above the tenant's size (the shipped
// cap of 25 would rightly leave the rest open) and returns the file and the rules.
func rulesFile(t *testing.T) (string, *rules.Config) {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yml := strings.Replace(string(raw), "\nrunCap: 25\n", "\nrunCap: 100000\n", 1)
	if yml == string(raw) {
		t.Fatal("deploy/remediation.yaml no longer says runCap: 25; update the test")
	}
	path := filepath.Join(t.TempDir(), "remediation.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := rules.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, rc
}

// unsafeGroups is the oracle: the groups whose true settings the rules would patch, read
// straight off the simulator's truth.
func unsafeGroups(t *testing.T, rc *rules.Config, truth workspacesim.Truth, now time.Time) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, g := range truth.Groups {
		in := rules.Input{Group: g.Email, Settings: g.Settings}
		for _, m := range g.Members {
			in.Members = append(in.Members, greep.Member{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status})
		}
		res, err := rc.Evaluate(in, now)
		if err != nil {
			t.Fatalf("evaluating the truth of %s: %v", g.Email, err)
		}
		if res.Patch != nil {
			out[strings.ToLower(g.Email)] = true
		}
	}
	return out
}

// patches sums up the settings writes of a run against the groups that needed a patch.
type patches struct {
	// Patched counts the groups whose settings a write changed.
	Patched int
	// ResentAfterKill counts patches answered 2xx again after the earlier answer went to
	// a process that was then killed: the task could not record its success, so it ran
	// again and re-sent the same values, which changed nothing (at-least-once delivery).
	ResentAfterKill int
	// Resent lists the other patches answered 2xx again for a group within one run of
	// Greep: they changed nothing either, but nothing excuses them.
	Resent []string
}

// patchReport checks the settings writes against the groups that needed a patch: every
// one of them changed exactly once and no other group changed. It fails the test on
// those; what it tolerates, it counts.
func patchReport(t *testing.T, want map[string]bool, writes map[string][]write, killed map[int64]bool) patches {
	t.Helper()
	var p patches
	groups := make([]string, 0, len(writes))
	for g := range writes {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		var changes, ok int
		var last int64 = -1
		for _, w := range writes[g] {
			if w.changed {
				changes++
			}
			if w.status/100 != 2 {
				continue
			}
			ok++
			switch {
			case ok == 1:
			case killed[last] && last < w.epoch:
				p.ResentAfterKill++
			default:
				p.Resent = append(p.Resent, fmt.Sprintf("%s: patched again in run %d after a patch answered in run %d (%+v)", g, w.epoch, last, writes[g]))
			}
			last = w.epoch
		}
		switch {
		case !want[g] && changes > 0:
			t.Errorf("%s: its settings were safe, yet %d writes changed them", g, changes)
		case want[g] && changes != 1:
			t.Errorf("%s: its settings changed %d times, want once: %+v", g, changes, writes[g])
		}
		if changes > 0 {
			p.Patched++
		}
	}
	for g := range want {
		if len(writes[g]) == 0 {
			t.Errorf("%s: unsafe, never patched", g)
		}
	}
	return p
}

// diffTruth returns up to max differences between the cache and the simulator's truth.
func diffTruth(ctx context.Context, store greep.GroupStore, sim *workspacesim.Sim, max int) ([]string, error) {
	truth, err := sim.Truth("")
	if err != nil {
		return nil, err
	}
	return bench.Diff(ctx, store, truth, max)
}

var emailRE = regexp.MustCompile(`[^\s:()]+@[^\s:()]+`)

// groupsIn returns the groups bench.Diff's differences name (a group may have several).
func groupsIn(diffs []string) map[string]bool {
	out := map[string]bool{}
	for _, d := range diffs {
		out[strings.ToLower(emailRE.FindString(d))] = true
	}
	return out
}

// eventually polls check until it reports done, failing with its last explanation after
// the deadline.
func eventually(t *testing.T, within time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		done, why := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %s", what, within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findingsFixed counts the settings findings (not membership hygiene) in state fixed, per
// group.
func findingsFixed(ctx context.Context, store greep.FindingStore) (map[string]int, error) {
	out := map[string]int{}
	q := greep.FindingQuery{State: greep.FindingFixed}
	for {
		fs, next, err := store.Findings(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if f.Field != rules.FieldMember {
				out[strings.ToLower(f.Group)]++
			}
		}
		if next == "" {
			return out, nil
		}
		q.Token = next
	}
}

func describe(diffs []string) string {
	if len(diffs) == 0 {
		return "no difference"
	}
	return fmt.Sprintf("%d+ differences:\n  %s", len(diffs), strings.Join(diffs, "\n  "))
}
