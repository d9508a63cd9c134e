package faulttest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/faults"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/settingsworker"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// interleave is a store whose next Settings read, once armed, runs a hook after reading
// and before returning (another task landing between a task's read of the settings and
// what it does with them), and whose next PutSettings, once armed, runs a hook before
// writing (another task landing between a settings read's answer and its store).
type interleave struct {
	*bolt.Store
	mu            sync.Mutex
	hook, putHook func()
}

func (s *interleave) arm(hook func()) {
	s.mu.Lock()
	s.hook = hook
	s.mu.Unlock()
}

func (s *interleave) armPut(hook func()) {
	s.mu.Lock()
	s.putHook = hook
	s.mu.Unlock()
}

func (s *interleave) take(h *func()) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	hook := *h
	*h = nil
	return hook
}

func (s *interleave) Settings(ctx context.Context, email string) (greep.GroupSettings, error) {
	gs, err := s.Store.Settings(ctx, email)
	if hook := s.take(&s.hook); hook != nil {
		hook()
	}
	return gs, err
}

func (s *interleave) PutSettings(ctx context.Context, gs greep.GroupSettings) error {
	if hook := s.take(&s.putHook); hook != nil {
		hook()
	}
	return s.Store.PutSettings(ctx, gs)
}

// settingsHarness is one unsafe group in the simulator and the cache, the settings worker
// and the remediation service on a held queue, each on its own interleave store.
type settingsHarness struct {
	t                       *testing.T
	sim                     *workspacesim.Sim
	writes                  *faults.WriteLog
	queue                   *queuetest.Queue
	workerStore, evalsStore *interleave
	mux                     *http.ServeMux
}

const openGroup = "open@example.com"

func newSettingsHarness(t *testing.T) *settingsHarness {
	ctx := context.Background()
	sim, err := workspacesim.New(workspacesim.Config{Users: 12, Seed: 7, QuotaPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	if err := sim.Apply([]workspacesim.Mutation{
		{Op: "createGroup", Group: openGroup, Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}},
		{Op: "addMember", Group: openGroup, Member: "someone@outside.test"},
	}); err != nil {
		t.Fatal(err)
	}
	h := &settingsHarness{t: t, sim: sim, writes: faults.NewWriteLog(sim, sim), queue: &queuetest.Queue{}}
	srv := httptest.NewServer(h.writes)
	t.Cleanup(srv.Close)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	truth, err := sim.Truth(openGroup)
	if err != nil {
		t.Fatal(err)
	}
	g := truth.Groups[0]
	if err := store.PutGroups(ctx, []greep.Group{{ID: g.ID, Email: g.Email, Name: g.Name, DirectMembersCount: g.DirectMembersCount}}); err != nil {
		t.Fatal(err)
	}
	var members []greep.Member
	for _, m := range g.Members {
		members = append(members, greep.Member{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status})
	}
	if err := store.ReplaceMembers(ctx, g.ID, members, g.ETag, sim.Now()); err != nil {
		t.Fatal(err)
	}
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: sim.Admin()})
	if err != nil {
		t.Fatal(err)
	}
	_, rc, err := faults.RulesFile("../../deploy/remediation.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.workerStore, h.evalsStore = &interleave{Store: store}, &interleave{Store: store}
	h.mux = http.NewServeMux()
	h.mux.Handle("/tasks/groupssettings/", settingsworker.New(settingsworker.Config{Store: h.workerStore, Settings: clients.Settings, Queue: h.queue, Now: sim.Now,
		Policy: remediation.PatchCheck{Rules: rc, Mode: "remediate", Store: store, Now: sim.Now}}).Handler())
	h.mux.Handle("/tasks/remediation/", remediation.New(remediation.Config{Rules: rc, Store: h.evalsStore, Queue: h.queue, Mode: "remediate", Now: sim.Now}).Handler())
	return h
}

func (h *settingsHarness) run(task queue.Task) {
	h.t.Helper()
	if rec := queuetest.Deliver(h.mux, task); rec.Code/100 != 2 {
		h.t.Fatalf("%s: %d %s", task.Path, rec.Code, rec.Body)
	}
}

func (h *settingsHarness) read(name string) queue.Task {
	h.t.Helper()
	task, err := tasks.New(tasks.QueueSettings, tasks.PathSettingsGet, name, tasks.SettingsGet{Group: openGroup, Reason: "push"}, time.Time{})
	if err != nil {
		h.t.Fatal(err)
	}
	// The simulated clock moves on between tasks, as it does between real ones.
	h.sim.Advance(5 * time.Millisecond)
	return task
}

// firstPatch runs a read and its evaluation, and returns the one patch they queued.
func (h *settingsHarness) firstPatch() queue.Task {
	h.t.Helper()
	h.run(h.read("read-1"))
	for _, e := range h.queue.Take(queuetest.Path(tasks.PathRemediationEvaluate)) {
		h.run(e)
	}
	patches := h.queue.Take(queuetest.Path(tasks.PathSettingsPatch))
	if len(patches) != 1 {
		h.t.Fatalf("%d patches queued for one unsafe group", len(patches))
	}
	return patches[0]
}

// drain runs whatever is queued until nothing is, then checks the group was patched once.
func (h *settingsHarness) drain() {
	h.t.Helper()
	for i := 0; i < 10; i++ {
		for _, task := range h.queue.Take() {
			if strings.HasPrefix(task.Path, "/tasks/remediation/") || strings.HasPrefix(task.Path, "/tasks/groupssettings/") {
				h.run(task)
			}
		}
	}
	if ws := h.writes.Writes()[openGroup]; len(ws) != 1 {
		h.t.Errorf("%d PATCH calls for one unsafe group: %+v", len(ws), ws)
	}
}

// A patch stored between a settings read's answer and its put: the read, older than the
// patch, must not overwrite it. When the worker checked "is a newer write stored?" and
// then stored in a second transaction, it did; the evaluation then saw the unsafe value
// under a fixed finding (a new occurrence) and patched a second time. The kill test met
// it in 1 of 5 runs with -race (a second 2xx PATCH within the last run). PutSettings now
// keeps the later read in one transaction.
func TestPatchBetweenReadCheckAndPut(t *testing.T) {
	h := newSettingsHarness(t)
	p := h.firstPatch()
	h.workerStore.armPut(func() { h.run(p) })
	h.run(h.read("read-2"))
	h.drain()
}

// A patch landing while an evaluation runs on settings it read before the patch: the
// evaluation must not take the patch's fixed finding for a new occurrence of the
// settings it read. The finding records the read its state was decided on
// (SettingsReadAt); an evaluation of an earlier read leaves it alone.
func TestPatchDuringEvaluation(t *testing.T) {
	h := newSettingsHarness(t)
	p := h.firstPatch()
	h.run(h.read("read-2")) // unsafe still, stored before the patch: a legitimate read
	h.evalsStore.arm(func() { h.run(p) })
	h.drain()
}
