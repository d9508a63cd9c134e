package cluster_test

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cluster"
	"github.com/greephq/greep/pkg/local"
)

// greep local's loops keep the periods deploy/cron.yaml gives the entries they stand in
// for: a schedule changed in one place and not the other fails here.
func TestLocalLoopsKeepCronsSchedules(t *testing.T) {
	top, err := cluster.LoadTopology("../..")
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]cluster.CronJob{}
	for _, j := range top.Cron {
		jobs[j.URL] = j
	}
	at := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC) // no daylight-saving change near it
	for url, every := range local.CronStandIns(local.Defaults()) {
		j, ok := jobs[url]
		if !ok {
			t.Errorf("greep local runs %s, which deploy/cron.yaml does not", url)
			continue
		}
		next := j.Next(at)
		period := j.Next(next).Sub(next)
		if period != every {
			t.Errorf("%s: greep local every %v, deploy/cron.yaml %q (every %v)", url, every, j.Schedule, period)
		}
	}
}
