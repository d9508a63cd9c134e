package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	defaults "github.com/greephq/greep"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/reports"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// backfillOutages are the outages the backfill scenario measures, from the start of the
// day scenario's day.
var backfillOutages = []struct {
	name   string
	length time.Duration
}{{"oneHour", time.Hour}, {"oneDay", 24 * time.Hour}}

// Backfill measures the Reports backfill after an outage (issue 16, must-show 3): the
// day scenario's changes (2,000 membership and 50 settings changes over the day) made in
// the simulator while nothing delivered them, then, for a one-hour and a one-day outage,
// the backfill of that span into an empty history through the reports service as
// production builds it (wiring.NewReports, the embedded store), its page tasks run one
// after another as the reports queue would. It reports per outage the activities.list
// calls, the activities listed and recorded, the refreshes and settings reads they
// enqueue, and the wall time; the quota's own pacing (2,400 calls a minute) is far from
// binding at a few calls, so wall time is what the process spends.
func Backfill(ctx context.Context, o Options) (*Result, error) {
	start := dayStart()
	srv, err := workspacesim.Start(workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, Start: start.Add(-time.Minute)})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	sim := srv.Sim
	truth, err := sim.Truth("")
	if err != nil {
		return nil, err
	}
	// The day's changes, made at their times while no channel listens.
	applied := 0
	for _, s := range daySchedule(truth, start, o.Seed) {
		if d := s.at.Sub(sim.Now()); d > 0 {
			sim.Advance(d)
		}
		if err := sim.Apply([]workspacesim.Mutation{s.mut}); err == nil {
			applied++
		}
	}
	if d := start.Add(24 * time.Hour).Sub(sim.Now()); d > 0 {
		sim.Advance(d)
	}
	qcfg, err := benchQueues(o)
	if err != nil {
		return nil, err
	}
	res := &Result{Scenario: "backfill", Users: len(truth.Users), Groups: len(truth.Groups), Calls: map[string]int64{}}
	for _, g := range truth.Groups {
		res.Members += g.DirectMembersCount
	}
	figures := map[string]any{"changesApplied": applied}
	wall := time.Now()
	for _, out := range backfillOutages {
		f, err := backfillOnce(ctx, srv, qcfg, start, start.Add(out.length))
		if err != nil {
			return nil, fmt.Errorf("%s outage: %w", out.name, err)
		}
		figures[out.name] = f
		res.Calls["reports.activities.list"] += f["calls"].(int64)
	}
	// No cache is built (cacheEqualsTruth stays false: nothing is compared); the
	// simulated clock stands still while the backfills run.
	res.WallSeconds = time.Since(wall).Seconds()
	res.Figures = figures
	return res, nil
}

// backfillOnce backfills [from, to) into a new, empty store and reports its figures.
func backfillOnce(ctx context.Context, srv *workspacesim.Server, qcfg *queueconfig.Config, from, to time.Time) (map[string]any, error) {
	dir, err := os.MkdirTemp(scratch(), "greep-bench-backfill-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := bolt.Open(filepath.Join(dir, "greep.db"))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	q := &queuetest.Queue{}
	rt := wiring.New(store, q, qcfg, srv.Sim.Now, zap.NewNop())
	if err := rt.ConnectGoogle(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()}); err != nil {
		return nil, err
	}
	// No channel is made here: the address only has to be a URL.
	rep, err := wiring.NewReports(rt, wiring.ReportsConfig{Address: "http://127.0.0.1:1/push/notify", Lifetime: reports.MaxLifetime, Debounce: wiring.DefaultPush().Debounce})
	if err != nil {
		return nil, err
	}
	// The outage: history complete up to from, the backfill to run up to to.
	for _, app := range []string{"admin", "groups"} {
		_, err := greep.UpdateStateJSON(ctx, store, reports.BackfillState(app), func(b *reports.Backfill) error {
			*b = reports.Backfill{Application: app, Running: true, StartTime: from, EndTime: to, Through: from}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	before := srv.Sim.Stats().Calls["reports.activities.list"]
	began := time.Now()
	if err := rep.Worker.StartBackfills(ctx); err != nil {
		return nil, err
	}
	pages := 0
	for {
		due := q.Take(func(t queue.Task) bool { return t.Queue == tasks.QueueReports })
		if len(due) == 0 {
			break
		}
		for _, t := range due {
			pages++
			if w := queuetest.Deliver(rep.Handler, t); w.Code/100 != 2 {
				return nil, fmt.Errorf("backfill task %s: %d %s", t.Body, w.Code, w.Body)
			}
		}
	}
	took := time.Since(began)
	recorded := 0
	for _, app := range []string{"admin", "groups"} {
		var b reports.Backfill
		if _, err := greep.LoadState(ctx, store, reports.BackfillState(app), &b); err != nil {
			return nil, err
		}
		if b.Running {
			return nil, fmt.Errorf("the %s backfill did not finish: %+v", app, b)
		}
		recorded += b.Recorded
	}
	var refreshes, settings int
	for _, t := range q.Pending() {
		switch t.Path {
		case tasks.PathDirectoryRefresh:
			refreshes++
		case tasks.PathSettingsGet:
			settings++
		}
	}
	return map[string]any{
		"outageSeconds":     to.Sub(from).Seconds(),
		"calls":             srv.Sim.Stats().Calls["reports.activities.list"] - before,
		"pageTasks":         pages,
		"eventsRecorded":    recorded,
		"refreshesEnqueued": refreshes,
		"settingsReads":     settings,
		"wallSeconds":       took.Seconds(),
	}, nil
}

// benchQueues is the bench's queues.yaml: Options.QueuesFile, else the embedded one.
func benchQueues(o Options) (*queueconfig.Config, error) {
	if o.QueuesFile != "" {
		return queueconfig.Load(o.QueuesFile)
	}
	return queueconfig.Parse("queues.yaml (embedded)", defaults.Queues)
}
