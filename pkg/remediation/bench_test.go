package remediation_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/settingsworker"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// drain runs q's tasks in order, as fast as the handlers go: the benchmark measures
// calls, not pacing (the queue's rate is queues.yaml's business and is planned by
// PlanBudget).
func drain(b *testing.B, q *queuetest.Queue, h http.Handler) {
	for {
		t, ok := q.Next()
		if !ok {
			return
		}
		if rec := queuetest.Deliver(h, t); rec.Code/100 != 2 {
			b.Fatalf("%s answered %d: %s", t.Path, rec.Code, rec.Body)
		}
	}
}

// BenchmarkDailySweep runs a whole remediate-mode sweep of a generated tenant (its
// realistic share of insecure settings included) through the real handlers, the embedded
// store and the simulator, and reports the Groups Settings calls it made per group and
// what a day of them comes to for the origin's 45,000 groups against the 100,000 daily
// quota. GREEP_BENCH_GROUPS sets the tenant size (default 300).
//
//	go test -run '^$' -bench DailySweep -benchtime 1x ./pkg/remediation
func BenchmarkDailySweep(b *testing.B) {
	groups := 300
	if v, err := strconv.Atoi(os.Getenv("GREEP_BENCH_GROUPS")); err == nil && v > 0 {
		groups = v
	}
	ctx := context.Background()
	q, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		b.Fatal(err)
	}
	rc, err := rules.LoadFile("../../deploy/remediation.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		b.StopTimer()
		srv, err := workspacesim.Start(workspacesim.Config{Users: groups/5 + 10, Groups: groups, Seed: 1, QuotaPerMinute: -1})
		if err != nil {
			b.Fatal(err)
		}
		store, err := bolt.Open(filepath.Join(b.TempDir(), "greep.db"))
		if err != nil {
			b.Fatal(err)
		}
		fillCache(b, store, srv.Sim)
		clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
		if err != nil {
			b.Fatal(err)
		}
		fq := &queuetest.Queue{}
		worker := settingsworker.New(settingsworker.Config{Store: store, Settings: clients.Settings, Queue: fq, Now: srv.Sim.Now,
			Policy: remediation.PatchCheck{Rules: rc, Mode: rules.ModeRemediate, Store: store, Now: srv.Sim.Now}})
		svc := remediation.New(remediation.Config{Rules: rc, Store: store, Queue: fq, Mode: rules.ModeRemediate, Now: srv.Sim.Now})
		mux := http.NewServeMux()
		mux.Handle("/tasks/groupssettings/", worker.Handler())
		mux.Handle("/tasks/remediation/", svc.Handler())
		b.StartTimer()

		if _, err := svc.StartSweep(ctx, 0); err != nil {
			b.Fatal(err)
		}
		drain(b, fq, mux)

		b.StopTimer()
		calls := srv.Sim.Stats().Calls
		gets, patches := float64(calls["groupssettings.groups.get"]), float64(calls["groupssettings.groups.patch"])
		plan, err := remediation.PlanBudget(queueconfig.DefaultGroups, q, rc, 200)
		if err != nil {
			b.Fatal(err)
		}
		perGroup := gets / float64(groups)
		day := perGroup*queueconfig.DefaultGroups + float64(plan.MaxPatches)
		b.ReportMetric(perGroup, "gets/group")
		b.ReportMetric(patches, "patches")
		b.ReportMetric(day, "calls/day@45k")
		b.ReportMetric(day/float64(plan.DailyLimit), "quota-fraction@45k")
		if gets != float64(groups) || patches > float64(rc.RunCap) || day >= float64(plan.DailyLimit) {
			b.Fatalf("%v gets for %d groups, %v patches (cap %d), %v calls a day at 45k", gets, groups, patches, rc.RunCap, day)
		}
		store.Close()
		srv.Close()
		b.StartTimer()
	}
}
