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

// slowAnswer holds one Groups Settings read's answer, composed by the simulator, until
// released: an answer delayed on the network.
type slowAnswer struct {
	next     http.Handler
	armed    chan struct{} // closed to hold the next settings read
	composed chan struct{}
	release  chan struct{}
	once     sync.Once
}

func (h *slowAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hold := false
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, faults.SettingsPath) {
		select {
		case <-h.armed:
			h.once.Do(func() { hold = true })
		default:
		}
	}
	if !hold {
		h.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	close(h.composed)
	<-h.release
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// A settings read answered before a patch but stored after it must not undo the patch:
// neither in the cache (which would then say the group is unsafe) nor by a second patch.
// Two sweeps overlap whenever greep local restarts, and a push-driven read can meet a
// sweep's patch any day. The settings worker dates a read by its request, so the patch wins.
func TestStaleSettingsReadDoesNotUndoAPatch(t *testing.T) {
	ctx := context.Background()
	sim, err := workspacesim.New(workspacesim.Config{Users: 12, Seed: 7, QuotaPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	const group = "open@example.com"
	if err := sim.Apply([]workspacesim.Mutation{
		{Op: "createGroup", Group: group, Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}},
		{Op: "addMember", Group: group, Member: "someone@outside.test"},
	}); err != nil {
		t.Fatal(err)
	}
	writes := faults.NewWriteLog(sim, sim)
	slow := &slowAnswer{next: writes, armed: make(chan struct{}), composed: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(slow)
	defer srv.Close()

	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	truth, err := sim.Truth(group)
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
	q := &queuetest.Queue{}
	_, rc, err := faults.RulesFile("../../deploy/remediation.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/tasks/groupssettings/", settingsworker.New(settingsworker.Config{Store: store, Settings: clients.Settings, Queue: q, Now: sim.Now,
		Policy: remediation.PatchCheck{Rules: rc, Mode: "remediate", Store: store, Now: sim.Now}}).Handler())
	mux.Handle("/tasks/remediation/", remediation.New(remediation.Config{Rules: rc, Store: store, Queue: q, Mode: "remediate", Now: sim.Now}).Handler())
	run := func(task queue.Task) {
		t.Helper()
		if rec := queuetest.Deliver(mux, task); rec.Code/100 != 2 {
			t.Fatalf("%s: %d %s", task.Path, rec.Code, rec.Body)
		}
	}
	read := func(name string) queue.Task {
		t.Helper()
		task, err := tasks.New(tasks.QueueSettings, tasks.PathSettingsGet, name, tasks.SettingsGet{Group: group, Reason: "push"}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}

	// A read, its evaluation: one patch queued.
	run(read("read-1"))
	for _, e := range q.Take(queuetest.Path(tasks.PathRemediationEvaluate)) {
		run(e)
	}
	patches := q.Take(queuetest.Path(tasks.PathSettingsPatch))
	if len(patches) != 1 {
		t.Fatalf("%d patches queued for one unsafe group", len(patches))
	}

	// A second read is answered (unsafe), its answer delayed; the patch runs meanwhile.
	close(slow.armed)
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(read("read-2"))
	}()
	<-slow.composed
	run(patches[0])
	close(slow.release)
	<-done

	// Whatever the late answer queued, run it all.
	for i := 0; i < 10; i++ {
		queued := q.Take()
		if len(queued) == 0 {
			break
		}
		for _, task := range queued {
			if strings.HasPrefix(task.Path, "/tasks/remediation/") || strings.HasPrefix(task.Path, "/tasks/groupssettings/") {
				run(task)
			}
		}
	}

	if n := len(writes.Writes()[group]); n != 1 {
		t.Errorf("%d PATCH calls for one unsafe group: %+v", n, writes.Writes()[group])
	}
	stored, err := store.Settings(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := sim.Truth(group)
	if got, want := stored.Settings["whoCanViewGroup"], now.Groups[0].Settings["whoCanViewGroup"]; got != want {
		t.Errorf("the cache says whoCanViewGroup %s, the truth %s: a read older than the patch overwrote its result", got, want)
	}
	f, err := store.Finding(ctx, remediation.FindingID(group, "group-not-public"))
	if err != nil {
		t.Fatal(err)
	}
	if f.State != greep.FindingFixed || f.PatchesToday != 1 {
		t.Errorf("finding after the late read: state %s, %d patches today (want fixed, 1): %+v", f.State, f.PatchesToday, f)
	}
}
