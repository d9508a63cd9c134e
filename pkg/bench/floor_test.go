package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// floorTenant starts the small simulator the floor's tests read, and returns it with its
// truth and the groups.list and members.list calls a full sync of it plans.
func floorTenant(t *testing.T) (*workspacesim.Server, workspacesim.Truth, int64) {
	t.Helper()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 40, Groups: 60, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	truth, err := srv.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	plan := PlannedCalls(truth)
	return srv, truth, plan["directory.groups.list"] + plan["directory.members.list"]
}

// The floor scenario's baseline is the median of whole runs, floorRuns of them on each
// side of Greep's sync, each into its own store: every run makes every call again, under
// the collector settings Greep runs under, and the process gets its own back after.
func TestFloorRunsEachInItsOwnStore(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	srv, _, want := floorTenant(t)
	dir := t.TempDir()
	cfg := local.Defaults()
	cfg.GCPercent = 333
	own := currentGCPercent()
	last, perCall, gcPercent, err := runFloors(context.Background(), &simProcess{URL: srv.URL, Subject: srv.Sim.Admin()}, dir, "before", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if gcPercent != 333 {
		t.Errorf("the floor ran at GOGC %d, want Greep's 333", gcPercent)
	}
	if p := currentGCPercent(); p != own {
		t.Errorf("after the floor GOGC is %d, want the process's own %d back", p, own)
	}
	if len(perCall) != floorRuns {
		t.Errorf("CPU per call of each run %v: want %d figures", perCall, floorRuns)
	}
	if last.Calls != want {
		t.Errorf("the last run made %d calls, the plan has %d", last.Calls, want)
	}
	calls := srv.Sim.Stats().Calls
	if got := calls["directory.groups.list"] + calls["directory.members.list"]; got != floorRuns*want {
		t.Errorf("the simulator answered %d calls, want %d runs of %d", got, floorRuns, want)
	}
	for i := range floorRuns {
		if _, err := os.Stat(fmt.Sprintf("%s/floor-before%d/floor.db", dir, i)); err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{1, 2, 9}, 2}, {[]float64{1, 2, 4, 9}, 3}} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

// The floor makes exactly the groups.list and members.list calls a full sync plans, and
// stores every membership, one transaction a page.
func TestFloorReadsWhatAFullSyncReads(t *testing.T) {
	srv, truth, want := floorTenant(t)
	asked := &fieldsAsked{}
	f := &Floor{Base: srv.URL, Subject: srv.Sim.Admin(), Dir: t.TempDir(), Client: &http.Client{Transport: asked}}
	run, err := f.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The same pages as Greep's: its partial responses, not the whole resources.
	for kind, want := range map[string]string{"groups": googleapi.CombineFields(directory.GroupFields), "members": googleapi.CombineFields(directory.MemberFields)} {
		if got := asked.fields[kind]; len(got) != 1 || !got[want] {
			t.Errorf("the floor's %s pages asked for fields %v; Greep asks for %q", kind, got, want)
		}
	}
	if run.Calls != want {
		t.Errorf("floor made %d calls, the plan has %d (groups.list and members.list)", run.Calls, want)
	}
	if run.Transactions != run.Calls {
		t.Errorf("floor wrote %d transactions for %d pages, want one a page", run.Transactions, run.Calls)
	}
	var members int64
	for _, g := range truth.Groups {
		members += int64(len(g.Members))
	}
	if run.Members != members {
		t.Errorf("floor stored %d memberships, the truth has %d", run.Members, members)
	}
}

// fieldsAsked records the fields parameter of each list call, by what it lists.
type fieldsAsked struct {
	mu     sync.Mutex
	fields map[string]map[string]bool
}

func (a *fieldsAsked) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := "groups"
	if strings.HasSuffix(r.URL.Path, "/members") {
		kind = "members"
	}
	a.mu.Lock()
	if a.fields == nil {
		a.fields = map[string]map[string]bool{}
	}
	if a.fields[kind] == nil {
		a.fields[kind] = map[string]bool{}
	}
	a.fields[kind][r.URL.Query().Get("fields")] = true
	a.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// The paced floor waits for its limiter before every call, or every Batch calls: N calls
// at rate r take at least (N-Batch)/r, however fast the machine.
func TestPacedFloorHoldsItsRate(t *testing.T) {
	srv, _, _ := floorTenant(t)
	const perSecond = 200
	for _, batch := range []int{1, 4} {
		f := &Floor{Base: srv.URL, Subject: srv.Sim.Admin(), Dir: t.TempDir(), Pace: rate.NewLimiter(perSecond, batch), Batch: batch}
		start := time.Now()
		run, err := f.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if least := time.Duration(run.Calls-int64(batch)) * time.Second / perSecond; run.Calls < 10 || took < least {
			t.Errorf("batch %d: %d calls in %v; at %d a second they take at least %v", batch, run.Calls, took, perSecond, least)
		}
	}
}

func FuzzDecodeFloorPage(f *testing.F) {
	f.Add([]byte(`{"members":[{"id":"1","email":"a@example.com","role":"MEMBER","type":"USER","status":"ACTIVE"}],"nextPageToken":"t"}`))
	f.Add([]byte(`{"groups":[{"id":"g","email":"g@example.com","directMembersCount":"3"}]}`))
	f.Add([]byte(`{"groups":[{"directMembersCount":3}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeFloorPage(b)
		if err != nil && (len(p.Members) > 0 || len(p.Groups) > 0 || p.NextPageToken != "") {
			t.Errorf("a refused page returned content: %+v", p)
		}
	})
}

// readLine takes `greep sim`'s start-up lines apart; any line is safe to feed it.
func FuzzSimStartLine(f *testing.F) {
	f.Add("generated 500 users and 1000 groups of example.com in 1.2s; admin subject admin@example.com, sentinel s@example.com")
	f.Add("listening on http://127.0.0.1:40123")
	f.Add("admin subject ")
	f.Add("")
	f.Fuzz(func(t *testing.T, line string) {
		var p simProcess
		if p.readLine(line) && (p.URL == "" || p.Subject == "") {
			t.Errorf("readLine(%q) reported both without them: %+v", line, p)
		}
	})
}

func TestSimStartLines(t *testing.T) {
	var p simProcess
	if p.readLine("generated 500 users and 1000 groups of example.com in 1.2s; admin subject admin@example.com, sentinel s@example.com") {
		t.Fatal("done before the listening line")
	}
	if !p.readLine("listening on http://127.0.0.1:40123") {
		t.Fatal("not done after the listening line")
	}
	if p.URL != "http://127.0.0.1:40123" || p.Subject != "admin@example.com" {
		t.Errorf("read %+v", p)
	}
}
