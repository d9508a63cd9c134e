package client_test

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/client"
	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

const timeScale = 200

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// localConfig runs greep local against sim with a resync every 10 simulated minutes (3 s
// of wall time): the resync alone carries the simulator's changes into the cache.
func localConfig(sim *workspacesim.Server, addr, dir string) local.Config {
	cfg := local.Defaults()
	cfg.Addr, cfg.DataDir, cfg.APIToken = addr, dir, "test-token"
	cfg.Workspace, cfg.SimClock, cfg.AdminSubject = sim.URL, sim.Sim.Now, sim.Sim.Admin()
	cfg.TimeScale, cfg.QueuesFile = timeScale, "../queues.yaml"
	cfg.ResyncEvery, cfg.MaxAge = 10*time.Minute, 24*time.Hour
	cfg.NoPush, cfg.NoRemediation = true, true
	return cfg
}

// replica is the copy the callbacks alone build: a callback that repeats a change (an add
// of a member it holds, a removal of one it lacks, an update from a state it is not in)
// is a fault.
type replica struct {
	mu      sync.Mutex
	groups  map[string]map[string]greep.Member
	faults  []string
	changes int
}

func memberKey(m greep.Member) string {
	if m.ID != "" {
		return m.ID
	}
	return m.Email
}

func (r *replica) config(groups []string) client.InformerConfig {
	r.groups = map[string]map[string]greep.Member{}
	for _, g := range groups {
		r.groups[g] = map[string]greep.Member{}
	}
	return client.InformerConfig{
		Groups: groups,
		OnAdd: func(g string, m greep.Member) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changes++
			if _, ok := r.groups[g][memberKey(m)]; ok {
				r.faults = append(r.faults, fmt.Sprintf("%s: %s added twice", g, m.Email))
			}
			r.groups[g][memberKey(m)] = m
		},
		OnRemove: func(g string, m greep.Member) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changes++
			if _, ok := r.groups[g][memberKey(m)]; !ok {
				r.faults = append(r.faults, fmt.Sprintf("%s: %s removed but absent", g, m.Email))
			}
			delete(r.groups[g], memberKey(m))
		},
		OnUpdate: func(g string, old, m greep.Member) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changes++
			if cur := r.groups[g][memberKey(m)]; cur != old || old == m {
				r.faults = append(r.faults, fmt.Sprintf("%s: %s updated from %+v, but the copy held %+v", g, m.Email, old, cur))
			}
			r.groups[g][memberKey(m)] = m
		},
		Wait:    5 * time.Second,
		Recheck: -1, // the feed alone must keep the copy: no self-check to mend it
		Backoff: 50 * time.Millisecond,
	}
}

func (r *replica) members(g string) []greep.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []greep.Member
	for _, m := range r.groups[g] {
		out = append(out, m)
	}
	sortMembers(out)
	return out
}

func sortMembers(ms []greep.Member) {
	sort.Slice(ms, func(i, j int) bool { return memberKey(ms[i]) < memberKey(ms[j]) })
}

func truthMembers(t *testing.T, sim *workspacesim.Sim, group string) []greep.Member {
	t.Helper()
	tr, err := sim.Truth(group)
	if err != nil {
		t.Fatal(err)
	}
	out := []greep.Member{}
	for _, m := range tr.Groups[0].Members {
		out = append(out, greep.Member{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status})
	}
	sortMembers(out)
	return out
}

// converged waits until the informer's copy and the callbacks' replica of every group
// equal the simulator's truth.
func converged(t *testing.T, sim *workspacesim.Sim, inf *client.Informer, r *replica, groups []string, within time.Duration) {
	t.Helper()
	wait.Until(t, within, func() error {
		for _, g := range groups {
			want := truthMembers(t, sim, g)
			got := inf.Members(g)
			sortMembers(got)
			if len(got) == 0 {
				got = []greep.Member{}
			}
			rep := r.members(g)
			if rep == nil {
				rep = []greep.Member{}
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(rep, want) {
				return fmt.Errorf("%s: informer %d members, callbacks %d, truth %d", g, len(got), len(rep), len(want))
			}
		}
		return nil
	})
}

// Must-show 1: greep local is killed while an informer follows the feed and a burst of
// changes is applied in the simulator. After the restart the informer's copy equals the
// simulator's truth, and the callbacks delivered every change once: none twice, none lost.
func TestInformerSurvivesAKilledGreep(t *testing.T) {
	sim, err := workspacesim.Start(workspacesim.Config{Users: 120, Groups: 40, Seed: 7, TimeScale: timeScale})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := localConfig(sim, freeAddr(t), t.TempDir())
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { app.Close(context.Background()) }()
	waitSweep(t, app)

	truth, _ := sim.Sim.Truth("")
	var groups []string
	for _, g := range truth.Groups[:6] {
		groups = append(groups, g.Email)
	}
	c, err := client.New(app.URL, client.WithStaticToken("test-token"), client.WithRetries(2, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var r replica
	inf := client.NewInformer(c, r.config(groups))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := inf.WaitSynced(ctxTimeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	converged(t, sim.Sim, inf, &r, groups, time.Minute)

	burst := func(round int) {
		var ms []workspacesim.Mutation
		for i, g := range groups {
			tg, _ := sim.Sim.Truth(g)
			ms = append(ms, workspacesim.Mutation{Op: "addMember", Group: g, Member: fmt.Sprintf("r%d-%d@outside.test", round, i), Role: "MANAGER"})
			if mm := tg.Groups[0].Members; len(mm) > 1 {
				ms = append(ms, workspacesim.Mutation{Op: "removeMember", Group: g, Member: mm[0].Email})
				if mm[1].Role != "OWNER" {
					ms = append(ms, workspacesim.Mutation{Op: "updateMember", Group: g, Member: mm[1].Email, Role: "OWNER"})
				}
			}
		}
		if err := sim.Sim.Apply(ms); err != nil {
			t.Fatal(err)
		}
	}
	burst(1)
	// Kill once the feed has moved past the list (some of the burst is in), mid-burst.
	start := inf.Cursor()
	wait.For(t, time.Minute, "the first burst reaching the feed", func() bool { return inf.Cursor() != start })
	burst(2)
	if err := app.Kill(); err != nil {
		t.Fatal(err)
	}
	burst(3) // while greep is down
	app, err = local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	converged(t, sim.Sim, inf, &r, groups, 2*time.Minute)

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.faults {
		t.Error(f)
	}
	if st := inf.Stats(); st.Lists != 1 {
		t.Errorf("the informer listed %d times: the feed alone should have carried it across the restart", st.Lists)
	}
	t.Logf("%d callbacks, cursor %d", r.changes, inf.Cursor())
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitSweep(t *testing.T, app *local.App) {
	t.Helper()
	wait.Until(t, 2*time.Minute, func() error {
		_, s, err := app.Directory.Progress(context.Background())
		if err == nil && (s.Generation == 0 || s.Running()) {
			err = fmt.Errorf("the sync is not finished: %+v", s)
		}
		return err
	})
}
