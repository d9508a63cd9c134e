package metrics

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// RingMinutes is how many minutes each chart series keeps: one point a minute over the
// last 24 hours, so a series is at most 1,440 points whatever the traffic.
const RingMinutes = 24 * 60

// Ring keeps the dashboard's last day per series, one point a minute, in memory: each
// instance has its own, and a restart starts it empty.
type Ring struct {
	mu     sync.Mutex
	series map[string]*series
}

// series is a circular buffer indexed by minute; a slot whose minute is not the one asked
// for is from a day ago and reads as empty.
type series struct {
	minute [RingMinutes]int64 // Unix minute of the slot; 0: never written
	sum    [RingMinutes]float64
	n      [RingMinutes]int64
	last   bool // a gauge: the minute's value is its last sample, not the sum
	mean   bool // a distribution: the minute's value is the mean of its samples
}

// Point is one minute of a series.
type Point struct {
	At    time.Time
	Value float64
}

// NewRing returns an empty ring.
func NewRing() *Ring { return &Ring{series: map[string]*series{}} }

// Add counts v into the minute of at (calls a minute).
func (r *Ring) Add(name string, at time.Time, v float64) { r.put(name, at, v, false, false) }

// Set records a gauge's value for the minute of at; the minute's last sample wins
// (backlog).
func (r *Ring) Set(name string, at time.Time, v float64) { r.put(name, at, v, true, false) }

// Observe records a sample; the minute shows their mean (freshness).
func (r *Ring) Observe(name string, at time.Time, v float64) { r.put(name, at, v, false, true) }

func (r *Ring) put(name string, at time.Time, v float64, last, mean bool) {
	m := at.Unix() / 60
	i := int(m % RingMinutes)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.series[name]
	if s == nil {
		s = &series{last: last, mean: mean}
		r.series[name] = s
	}
	if s.minute[i] != m {
		s.minute[i], s.sum[i], s.n[i] = m, 0, 0
	}
	if s.last {
		s.sum[i], s.n[i] = v, 1
		return
	}
	s.sum[i] += v
	s.n[i]++
}

// Points returns the series' minutes of the 24 hours up to now that have a value, oldest
// first.
func (r *Ring) Points(name string, now time.Time) []Point {
	end := now.Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.series[name]
	if s == nil {
		return nil
	}
	var out []Point
	for m := end - RingMinutes + 1; m <= end; m++ {
		i := int(m % RingMinutes)
		if s.minute[i] != m || s.n[i] == 0 {
			continue
		}
		v := s.sum[i]
		if s.mean {
			v /= float64(s.n[i])
		}
		out = append(out, Point{At: time.Unix(m*60, 0).UTC(), Value: v})
	}
	return out
}

// Names returns the series' names with the given prefix, sorted.
func (r *Ring) Names(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.series {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Series names the ring's feed writes.
const (
	SeriesCalls     = "calls "     // + API: calls a minute
	SeriesBacklog   = "backlog "   // + queue: tasks waiting
	SeriesFreshness = "freshness " // + kind: mean seconds
)

// Feed is a Listen hook that counts calls and freshness into the ring.
func (r *Ring) Feed(e Event) {
	switch e.Kind {
	case "call":
		r.Add(SeriesCalls+e.API, e.At, 1)
	case "freshness":
		r.Observe(SeriesFreshness+e.Reason, e.At, e.Seconds)
	}
}
