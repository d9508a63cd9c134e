package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The push service down while the channels stay live: what Google could not deliver is
// lost to push, and the changes pushed after the outage say nothing of it. The reports
// cron's reconciliation, built as production builds the service, lists the gap and
// records each change once, with its actor.
func TestReconcileCoversPushServiceDowntime(t *testing.T) {
	ctx := context.Background()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 10, Groups: 3, Seed: 1, QuotaPerMinute: -1,
		Start: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), PushMaxAttempts: 2, PushRetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	sim := srv.Sim
	qcfg, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store, q := memory.New(), &queuetest.Queue{}
	rt := wiring.New(store, q, qcfg, sim.Now, nil)
	rt.TrustTaskHeaders = true
	if err := rt.ConnectGoogle(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: sim.Admin()}); err != nil {
		t.Fatal(err)
	}
	pushSvc := wiring.NewPush(rt, wiring.DefaultPush())
	var down atomic.Bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "the service is unavailable", http.StatusServiceUnavailable)
			return
		}
		pushSvc.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(hook.Close)
	cfg := Config{ReportsConfig: wiring.DefaultReports()}
	cfg.Address = hook.URL + "/push/notify"
	svc, err := build(rt, cfg)
	if err != nil {
		t.Fatal(err)
	}

	cron := func() {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, reports.PathCron, nil)
		req.Header.Set(queue.HeaderCron, "true")
		w := httptest.NewRecorder()
		svc.Handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("cron: %d %s", w.Code, w.Body)
		}
	}
	runReports := func() {
		t.Helper()
		for {
			due := q.Take(func(task queue.Task) bool { return task.Queue == "reports" })
			if len(due) == 0 {
				return
			}
			for _, task := range due {
				if w := queuetest.Deliver(svc.Handler, task); w.Code/100 != 2 {
					t.Fatalf("task %s: %d %s", task.Path, w.Code, w.Body)
				}
			}
		}
	}
	until := func(what string, ok func() bool) {
		t.Helper()
		wait.For(t, time.Minute, what, ok)
	}
	events := func(member string) []greep.Event {
		t.Helper()
		var out []greep.Event
		evs, _, err := store.Events(ctx, greep.EventQuery{Page: greep.Page{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Member == member {
				out = append(out, e)
			}
		}
		return out
	}

	cron()
	runReports()
	until("two live channels", func() bool { return sim.Stats().Channels == 2 })
	truth, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	group := truth.Groups[0].Email
	helpdesk := "helpdesk@" + sim.Domain()

	sim.Advance(time.Minute)
	apply(t, sim, workspacesim.Mutation{Op: "addMember", Group: group, Member: "before@outside.example"})
	until("the change before the outage pushed", func() bool { return len(events("before@outside.example")) == 1 })

	down.Store(true)
	failed := sim.Stats().Pushes.Failed
	sim.Advance(time.Minute)
	apply(t, sim, workspacesim.Mutation{Op: "addMember", Group: group, Member: "lost@outside.example", Actor: helpdesk})
	until("the simulator giving up on the push", func() bool {
		st := sim.Stats().Pushes
		return st.Failed > failed && st.Queued == 0
	})
	down.Store(false)
	sim.Advance(time.Minute)
	apply(t, sim, workspacesim.Mutation{Op: "addMember", Group: group, Member: "after@outside.example"})
	until("the change after the outage pushed", func() bool { return len(events("after@outside.example")) == 1 })
	if n := len(events("lost@outside.example")); n != 0 {
		t.Fatalf("the change made during the outage is recorded %d times before the reconciliation", n)
	}

	// Within the hour nothing is due; past it the cron lists the unchecked time.
	cron()
	if got := q.Pending(queuetest.Path(reports.PathBackfill)); len(got) != 0 {
		t.Fatalf("a reconciliation after minutes: %d backfill tasks", len(got))
	}
	sim.Advance(75 * time.Minute)
	cron()
	runReports()
	lost := events("lost@outside.example")
	if len(lost) != 1 || lost[0].Actor != helpdesk || lost[0].Event != "ADD_GROUP_MEMBER" {
		t.Errorf("after the reconciliation the lost change is %+v, want one ADD_GROUP_MEMBER by %s", lost, helpdesk)
	}
	for _, m := range []string{"before@outside.example", "after@outside.example"} {
		if n := len(events(m)); n != 1 {
			t.Errorf("the pushed change of %s is recorded %d times, want once", m, n)
		}
	}
	var b reports.Backfill
	if _, err := greep.LoadState(ctx, store, reports.BackfillState("admin"), &b); err != nil {
		t.Fatal(err)
	}
	if b.Running || !b.Reconcile || b.Recorded != 1 || !b.Through.Equal(b.EndTime) {
		t.Errorf("the admin reconciliation %+v, want done with the one lost event recorded", b)
	}
	if refreshes := q.Pending(queuetest.Path("/tasks/directory/refresh")); len(refreshes) == 0 {
		t.Error("the recorded change enqueued no refresh of its group")
	}
}

func apply(t *testing.T, sim *workspacesim.Sim, muts ...workspacesim.Mutation) {
	t.Helper()
	if err := sim.Apply(muts); err != nil {
		t.Fatal(err)
	}
}
