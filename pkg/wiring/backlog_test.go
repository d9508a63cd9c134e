package wiring_test

import (
	"context"
	"testing"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/wiring/wiringtest"
)

// TestBacklogChartFilledWithoutTheDashboard (issue 17): the dashboard's backlog chart
// used to be sampled only while a page was open, so a night nobody watched drew nothing.
// The minute's judgement of the alerts (greep local's timer, production's cron) samples
// it, with no dashboard request at all.
func TestBacklogChartFilledWithoutTheDashboard(t *testing.T) {
	ctx := context.Background()
	rt := wiringtest.Runtime(t)
	backlog := int64(7)
	rt.QueueStats = func(context.Context) (map[string]greep.QueueStat, error) {
		return map[string]greep.QueueStat{"directory-sweep": {Backlog: backlog}}, nil
	}
	authn, err := auth.NewStaticToken("tok")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wiring.NewAPI(ctx, rt, authn); err != nil {
		t.Fatal(err)
	}
	alerts := wiring.NewAlerts(rt, wiring.AlertsConfig{})
	defer alerts.Close()
	rt.Ops = alerts
	for _, b := range []int64{7, 3} {
		backlog = b
		if err := alerts.Judge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pts := rt.History.Points(metrics.SeriesBacklog+"directory-sweep", rt.Now())
	if len(pts) == 0 || pts[len(pts)-1].Value != 3 {
		t.Errorf("backlog chart %+v: want the latest sample, 3, without a dashboard view", pts)
	}
}
