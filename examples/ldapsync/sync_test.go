package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/client"
	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// slapd skips without the directory scripts/with-slapd.sh starts, and fails under CI.
func slapd(t testing.TB) {
	t.Helper()
	if os.Getenv("LDAP_URL") != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("LDAP_URL is not set under CI: run the tests with scripts/with-slapd.sh")
	}
	t.Skip("LDAP_URL is not set; run with scripts/with-slapd.sh")
}

// newSyncer binds under a base of its own, so tests never see each other's entries.
func newSyncer(t testing.TB) *Syncer {
	t.Helper()
	slapd(t)
	base := fmt.Sprintf("ou=t%d,%s", time.Now().UnixNano(), os.Getenv("LDAP_BASE_DN"))
	root, err := NewSyncer(os.Getenv("LDAP_URL"), os.Getenv("LDAP_BIND_DN"), os.Getenv("LDAP_BIND_PASSWORD"), os.Getenv("LDAP_BASE_DN"))
	if err != nil {
		t.Fatal(err)
	}
	root.Close() // it made the root entries
	s, err := NewSyncer(os.Getenv("LDAP_URL"), os.Getenv("LDAP_BIND_DN"), os.Getenv("LDAP_BIND_PASSWORD"), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func truthEmails(t *testing.T, sim *workspacesim.Sim, group string) []string {
	t.Helper()
	tr, err := sim.Truth(group)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, m := range tr.Groups[0].Members {
		out = append(out, strings.ToLower(m.Email))
	}
	sort.Strings(out)
	return out
}

func waitLDAP(t *testing.T, s *Syncer, sim *workspacesim.Sim, groups []string) {
	t.Helper()
	wait.Until(t, 2*time.Minute, func() error {
		for _, g := range groups {
			got, err := s.Members(g)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			if got == nil {
				got = []string{}
			}
			if want := truthEmails(t, sim, g); !reflect.DeepEqual(got, want) {
				return fmt.Errorf("%s: LDAP has %d members, Google %d", g, len(got), len(want))
			}
		}
		return nil
	})
}

func runSyncer(t *testing.T, c *client.Client, s *Syncer, groups []string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	inf := client.NewInformer(c, s.Callbacks(client.InformerConfig{Groups: groups, Wait: 5 * time.Second, Backoff: 50 * time.Millisecond}))
	done := make(chan struct{})
	go func() { inf.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// Must-show 3: a member added and one removed in the simulator reach the LDAP group; a
// change made while the syncer is down is there after its restart.
func TestMirrorsGroupsIntoLDAP(t *testing.T) {
	s := newSyncer(t)
	sim, err := workspacesim.Start(workspacesim.Config{Users: 80, Groups: 20, Seed: 3, TimeScale: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := local.Defaults()
	cfg.Addr, cfg.DataDir, cfg.APIToken = "127.0.0.1:0", t.TempDir(), "test-token"
	cfg.Workspace, cfg.SimClock, cfg.AdminSubject = sim.URL, sim.Sim.Now, sim.Sim.Admin()
	cfg.TimeScale, cfg.QueuesFile = 200, "../../queues.yaml"
	cfg.ResyncEvery, cfg.MaxAge = 10*time.Minute, 24*time.Hour
	cfg.NoPush, cfg.NoRemediation = true, true
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	wait.Until(t, 2*time.Minute, func() error {
		_, sw, err := app.Directory.Progress(context.Background())
		if err == nil && (sw.Generation == 0 || sw.Running()) {
			err = fmt.Errorf("the sync is not finished: %+v", sw)
		}
		return err
	})
	truth, _ := sim.Sim.Truth("")
	var groups []string
	for _, g := range truth.Groups {
		if len(g.Members) > 1 && len(groups) < 2 {
			groups = append(groups, g.Email)
		}
	}
	c, err := client.New(app.URL, client.WithStaticToken("test-token"))
	if err != nil {
		t.Fatal(err)
	}
	stop := runSyncer(t, c, s, groups)
	waitLDAP(t, s, sim.Sim, groups)

	g := truth.Groups[slices.IndexFunc(truth.Groups, func(tg workspacesim.TruthGroup) bool { return tg.Email == groups[0] })]
	if err := sim.Sim.Apply([]workspacesim.Mutation{
		{Op: "addMember", Group: g.Email, Member: "newcomer@outside.test"},
		{Op: "removeMember", Group: g.Email, Member: g.Members[0].Email},
	}); err != nil {
		t.Fatal(err)
	}
	waitLDAP(t, s, sim.Sim, groups)
	got, _ := s.Members(g.Email)
	if !slices.Contains(got, "newcomer@outside.test") || slices.Contains(got, strings.ToLower(g.Members[0].Email)) {
		t.Errorf("LDAP group %s after an add and a removal: %v", g.Email, got)
	}

	// Down while a member leaves: the restarted syncer's list sets the entry whole.
	stop()
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "removeMember", Group: g.Email, Member: "newcomer@outside.test"}}); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, 2*time.Minute, func() error {
		ms, _, err := c.Members(context.Background(), g.Email)
		if err == nil && slices.ContainsFunc(ms, func(m greep.Member) bool { return m.Email == "newcomer@outside.test" }) {
			err = errors.New("the removal has not reached Greep")
		}
		return err
	})
	stop = runSyncer(t, c, s, groups)
	defer stop()
	waitLDAP(t, s, sim.Sim, groups)
}

// BenchmarkChangeToLDAP: from a change committed to Greep's cache to the LDAP write it
// causes, through the read API's long poll and the informer. Reports p50 and p95.
//
//	./scripts/with-slapd.sh go test -run '^$' -bench ChangeToLDAP -benchtime 200x ./examples/ldapsync
func BenchmarkChangeToLDAP(b *testing.B) {
	s := newSyncer(b)
	st, err := bolt.Open(filepath.Join(b.TempDir(), "greep.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.PutGroups(ctx, []greep.Group{{ID: "g1", Email: "bench@example.com"}}); err != nil {
		b.Fatal(err)
	}
	a, _ := auth.NewStaticToken("tok")
	h, err := api.New(api.Config{Store: st, Auth: a})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, _ := client.New(srv.URL, client.WithStaticToken("tok"))
	var (
		mu      sync.Mutex
		wrote   = map[string]time.Time{}
		written = make(chan struct{}, 1)
	)
	s.written = func(_ string, m greep.Member) {
		mu.Lock()
		wrote[m.ID] = time.Now()
		mu.Unlock()
		select {
		case written <- struct{}{}:
		default:
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	inf := client.NewInformer(c, s.Callbacks(client.InformerConfig{Groups: []string{"bench@example.com"}, Wait: 30 * time.Second}))
	done := make(chan struct{})
	go func() { inf.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := inf.WaitSynced(ctx); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		m := greep.Member{ID: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@example.com", i), Role: "MEMBER", Type: "USER", Status: "ACTIVE"}
		start := time.Now()
		if err := st.ReplaceMembers(ctx, "g1", []greep.Member{m}, "e", start); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		for {
			mu.Lock()
			at, ok := wrote[m.ID]
			mu.Unlock()
			if ok {
				lat = append(lat, at.Sub(committed))
				break
			}
			select {
			case <-written:
			case <-time.After(time.Minute):
				b.Fatalf("change %d never reached LDAP", i)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
