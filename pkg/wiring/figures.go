package wiring

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

// StateFigures names the store document where every service process keeps the figures
// the push-silent and store-writes alerts need, which it otherwise holds in memory only:
// the default service judges the alerts in production and hears none of them itself.
const StateFigures = "ops/figures"

// figuresEvery is how often a process writes its figures at most (on its clock), and
// figuresTimeout how long one write may take after the request that triggers it.
const (
	figuresEvery   = time.Minute
	figuresTimeout = 10 * time.Second
)

// processFigures are one process's figures. Instances of one service share an entry,
// each keeping the later of every time.
type processFigures struct {
	LastNotification time.Time     `json:"lastNotification,omitzero"`
	LastResyncChange time.Time     `json:"lastResyncChange,omitzero"`
	StoreFailure     *storeFailure `json:"storeFailure,omitempty"`
}

// storeFailure is the last failed store operation; Recorded is when the store took it,
// which after an outage is when the store took writes again.
type storeFailure struct {
	At       time.Time `json:"at"`
	Op       string    `json:"op"`
	Error    string    `json:"error"`
	Recorded time.Time `json:"recorded"`
}

// figuresDoc is StateFigures: the figures by service (the names of the services a
// process serves, comma-joined: greep local's one process serves them all).
type figuresDoc struct {
	Services map[string]processFigures `json:"services,omitempty"`
}

// memoryFigures are what m heard in this process.
func memoryFigures(m *metrics.Metrics) processFigures {
	var f processFigures
	for _, t := range m.LastNotifications() {
		if t.After(f.LastNotification) {
			f.LastNotification = t
		}
	}
	f.LastResyncChange = m.LastResyncChange()
	if s := m.LastStoreFailure(); !s.At.IsZero() {
		f.StoreFailure = &storeFailure{At: s.At, Op: s.Op, Error: s.Error}
	}
	return f
}

// same reports whether f and g hold the same figures (Recorded aside).
func (f processFigures) same(g processFigures) bool {
	if !f.LastNotification.Equal(g.LastNotification) || !f.LastResyncChange.Equal(g.LastResyncChange) {
		return false
	}
	if f.StoreFailure == nil || g.StoreFailure == nil {
		return f.StoreFailure == g.StoreFailure
	}
	return f.StoreFailure.At.Equal(g.StoreFailure.At)
}

// merge keeps the later of every figure of f and g; a store failure new to f is
// recorded at now.
func (f processFigures) merge(g processFigures, now time.Time) processFigures {
	if g.LastNotification.After(f.LastNotification) {
		f.LastNotification = g.LastNotification
	}
	if g.LastResyncChange.After(f.LastResyncChange) {
		f.LastResyncChange = g.LastResyncChange
	}
	if g.StoreFailure != nil && (f.StoreFailure == nil || g.StoreFailure.At.After(f.StoreFailure.At)) {
		s := *g.StoreFailure
		if s.Recorded.IsZero() {
			s.Recorded = now
		}
		f.StoreFailure = &s
	}
	return f
}

// figures writes the process's figures to StateFigures after the requests of the
// services built on its runtime: it looks at most once a figuresEvery, and writes only
// when a figure moved. A write that fails (the store down) is tried again a figuresEvery later, so a
// store failure reaches the document once the store takes writes again.
type figures struct {
	rt *Runtime

	mu      sync.Mutex
	names   []string
	written processFigures // what the store last took
	// tried is when the figures were last gathered (Unix nanoseconds on the runtime's clock),
	// read without the lock: every request checks it, and all but one a minute stop
	// there rather than contend for mu and gather the figures.
	tried atomic.Int64
}

// recordingFigures serves next, the handler of service name, and writes the process's
// figures after each request. Every constructor's handler goes through it.
func (rt *Runtime) recordingFigures(name string, next http.Handler) http.Handler {
	rt.figuresOnce.Do(func() { rt.figures = &figures{rt: rt} })
	f := rt.figures
	f.mu.Lock()
	if !slices.Contains(f.names, name) {
		f.names = append(f.names, name)
		slices.Sort(f.names)
	}
	f.mu.Unlock()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		f.record(r.Context())
	})
}

func (f *figures) record(ctx context.Context) {
	now := f.rt.Now()
	if now.UnixNano()-f.tried.Load() < int64(figuresEvery) {
		return
	}
	// A request finding another one writing leaves the figures to it.
	if !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	if now.UnixNano()-f.tried.Load() < int64(figuresEvery) {
		return // gathered by a request that held the lock just before
	}
	// The check counts as a try even when nothing moved: otherwise, once a quiet minute
	// passed, every request would gather the figures under the metrics' lock until one
	// moved.
	f.tried.Store(now.UnixNano())
	cur := memoryFigures(f.rt.Metrics)
	if cur.same(f.written) {
		return
	}
	// The request's context ends with its response; the write outlives it, bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), figuresTimeout)
	defer cancel()
	key := strings.Join(f.names, ",")
	_, err := greep.UpdateStateJSON(ctx, f.rt.Store, StateFigures, func(d *figuresDoc) error {
		if d.Services == nil {
			d.Services = map[string]processFigures{}
		}
		d.Services[key] = d.Services[key].merge(cur, now)
		return nil
	})
	if err != nil {
		f.rt.Log.Warn("recording the process's figures for the alerts; tried again in a minute", zap.Error(err))
		return
	}
	f.written = cur
}

// storedFigures brings every service's figures in StateFigures into in's, keeping the
// later of each.
func storedFigures(ctx context.Context, rt *Runtime, in *alert.Inputs) error {
	var d figuresDoc
	if _, err := greep.LoadState(ctx, rt.Store, StateFigures, &d); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(d.Services)) {
		f := d.Services[name]
		if f.LastNotification.After(in.LastNotification) {
			in.LastNotification = f.LastNotification
		}
		if f.LastResyncChange.After(in.LastResyncChange) {
			in.LastResyncChange = f.LastResyncChange
		}
		// A failure recorded late (the store took no writes meanwhile) counts from when
		// it was recorded, so that its alert comes late rather than never.
		if s := f.StoreFailure; s != nil && s.Recorded.After(in.StoreFailureAt) {
			in.StoreFailureAt = s.Recorded
			in.StoreFailure = fmt.Sprintf("%s: %s (%s, at %s)", s.Op, s.Error, name, s.At.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
