package alert_test

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queueconfig"
)

func queues(t *testing.T) *queueconfig.Config {
	t.Helper()
	qc, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return qc
}

func projection(apis []alert.APIProjection, api string) alert.APIProjection {
	for _, p := range apis {
		if p.API == api {
			return p
		}
	}
	return alert.APIProjection{}
}

// The misreport of the issue: right after the settings sweep (45,000 calls by 10:00), a
// straight line projected Groups Settings at 113%; the guard stops the sweep lane at 60%,
// and no other sweep runs before the reset, so the day ends near 45%, plus push.
func TestProjectionRightAfterASweep(t *testing.T) {
	qc := queues(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	reset := now.Add(14 * time.Hour)
	in := alert.ProjectionInput{
		Now: now, Started: now.Add(-10 * time.Hour), Queues: qc,
		Usage: map[string]greep.QuotaUsage{
			"groupssettings": {UsedToday: 45000, DailyLimit: 100000, ResetAt: reset},
			"directory":      {UsedToday: 50000, DailyLimit: 5000000, ResetAt: reset},
			"reports":        {UsedToday: 10, DailyLimit: 5000000, ResetAt: reset},
		},
		// 360 push reads and patches in 10 hours: 36 an hour.
		Stats: map[string]greep.QueueStat{"groupssettings": {Dispatched: 360}},
	}
	lanes, apis := alert.Project(in)
	gs := projection(apis, "groupssettings")
	if gs.Projected != 45000+504 || gs.Push != 504 || gs.Background != 0 {
		t.Errorf("right after the sweep: %+v, want 45,000 used + 504 push (36/h for 14 h)", gs)
	}
	for _, l := range lanes {
		if got := alert.Evaluate(alert.Config{}, alert.Inputs{Now: now, Lanes: []alert.Lane{l}}); len(got) != 0 {
			t.Errorf("lane %s alerts after a finished sweep: %v", l.Name, got)
		}
	}

	// A sweep due before the reset: 45,000 more reads wanted, the guard allows 15,000.
	in.Remaining = map[string]int64{"groupssettings-sweep": 45000}
	lanes, apis = alert.Project(in)
	gs = projection(apis, "groupssettings")
	if gs.Projected != 60000+504 || gs.Background != 15000 {
		t.Errorf("with a sweep due: %+v, want the sweep stopped at its 60,000 budget", gs)
	}
	var fired []alert.Alert
	for _, l := range lanes {
		fired = append(fired, alert.Evaluate(alert.Config{}, alert.Inputs{Now: now, Lanes: []alert.Lane{l}})...)
	}
	if len(fired) != 1 || fired[0].Key != "lane-budget/groupssettings-sweep" {
		t.Errorf("alerts with a sweep that cannot finish: %+v", fired)
	}
}
