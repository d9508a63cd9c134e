package wiring

import (
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

// sampleBacklog puts each queue's backlog in the dashboard's chart ring. The alerts read
// the queues every minute (greep local's timer, production's cron), so the backlog chart
// fills whether or not anyone looks at the dashboard; the dashboard adds its own samples
// while it is open.
func sampleBacklog(rt *Runtime, at time.Time, stats map[string]greep.QueueStat) {
	if rt.History == nil {
		return
	}
	for name, q := range stats {
		rt.History.Set(metrics.SeriesBacklog+name, at, float64(q.Backlog))
	}
}
