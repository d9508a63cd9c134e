package api

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

// chartView is one small chart of the last 24 hours, drawn server-side as inline SVG so
// the page needs no script library.
type chartView struct {
	Title  string
	Latest string
	SVG    template.HTML
}

// Chart geometry in SVG units: the x axis is the 24 hours, one unit a minute.
const (
	chartW = metrics.RingMinutes
	chartH = 60
)

// charts draws every series of the ring under the three headings, in a stable order.
func charts(ring *metrics.Ring, now time.Time) []chartView {
	if ring == nil {
		return nil
	}
	var out []chartView
	for _, kind := range []struct{ prefix, title, unit string }{
		{metrics.SeriesCalls, "calls/min", ""},
		{metrics.SeriesBacklog, "backlog", ""},
		{metrics.SeriesFreshness, "freshness", " s"},
	} {
		for _, name := range ring.Names(kind.prefix) {
			pts := ring.Points(name, now)
			if len(pts) == 0 {
				continue
			}
			cv := chartView{Title: strings.TrimPrefix(name, kind.prefix) + " " + kind.title, SVG: sparkline(pts, now)}
			cv.Latest = trimFloat(pts[len(pts)-1].Value) + kind.unit
			out = append(out, cv)
		}
	}
	return out
}

// sparkline draws the points as one polyline over the 24 hours ending at now, scaled to
// the series' maximum; every point is drawn, so an idle minute with a value shows as such.
func sparkline(pts []metrics.Point, now time.Time) template.HTML {
	peak := 0.0
	for _, p := range pts {
		peak = max(peak, p.Value)
	}
	start := now.Truncate(time.Minute).Add(-(metrics.RingMinutes - 1) * time.Minute)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="max %s"><polyline fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" points="`, chartW, chartH, trimFloat(peak))
	for i, p := range pts {
		x := int(p.At.Sub(start) / time.Minute)
		y := float64(chartH)
		if peak > 0 {
			y = chartH - p.Value/peak*(chartH-2) - 1
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d,%.1f", x, y)
	}
	b.WriteString(`"/></svg>`)
	// Only numbers are written into the markup.
	return template.HTML(b.String())
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

// sampleBacklog records each queue's backlog in the ring. The dashboard and its live view
// sample it whenever they read the status (every few seconds while a page is open); the
// ring keeps the minute's last sample.
func (s *server) sampleBacklog(now time.Time, queues map[string]greep.QueueStat) {
	if s.history == nil {
		return
	}
	for name, q := range queues {
		s.history.Set(metrics.SeriesBacklog+name, now, float64(q.Backlog))
	}
}
