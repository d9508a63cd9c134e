// Package metrics owns Greep's Prometheus registry: the figures events report as they
// happen (Google API calls, push notifications, freshness, store errors) and the ones read
// at scrape time from the live sources (queues, quota, sync and sweep progress, findings).
// One Metrics per process; `greep local` serves it on /metrics behind the read API's
// authentication, and production scrapes the same handler (docs/operations.md).
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the registry and the families fed by events. Its methods are the
// observer interfaces of pkg/callbudget, pkg/push and pkg/directory.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	calls         *prometheus.CounterVec
	notifications *prometheus.CounterVec
	lastNotified  *prometheus.GaugeVec
	freshness     *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	resyncChanges prometheus.Counter

	mu        sync.Mutex
	lastByCh  map[string]time.Time
	lastStore StoreFailure
	lastFound time.Time // the last resync page that found changes
	refused   map[string]int64
	hooks     []func(Event)
}

// Event is one thing the metrics heard, for in-process listeners (the dashboard's
// history ring, the alerts) that need more than a counter.
type Event struct {
	Kind string // "call", "notification", "freshness", "storeError", "resyncChanges"
	At   time.Time
	// API, Method, Outcome for calls; Channel, Outcome, Reason for notifications;
	// Reason is the freshness kind or the store operation.
	API, Method, Channel, Outcome, Reason string
	Seconds                               float64
}

// StoreFailure is the last store error seen.
type StoreFailure struct {
	At    time.Time
	Op    string
	Error string
}

// FreshnessBuckets span a refresh confirmed at once to one re-polled for half an hour
// (seconds): the debounce alone is minutes.
var FreshnessBuckets = []float64{1, 5, 15, 30, 60, 90, 120, 150, 180, 240, 300, 600, 1200, 1800}

// New returns the metrics with an empty registry of Greep's families; now is the
// process's clock (the simulator's in greep local).
func New(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), now: now, lastByCh: map[string]time.Time{}}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "greep_google_api_calls_total",
		Help: "Google API calls by API, method and outcome (ok, refused by the budget guard, transport, or the HTTP status).",
	}, []string{"api", "method", "outcome"})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "greep_push_notifications_total",
		Help: "Push notifications by outcome (accepted, refused, failed) and the reason answered.",
	}, []string{"outcome", "reason"})
	m.lastNotified = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "greep_push_last_notification_timestamp_seconds",
		Help: "When each watch channel last delivered an accepted notification (Unix seconds, process clock).",
	}, []string{"channel"})
	m.freshness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "greep_freshness_seconds",
		Help:    "How long a pushed change took to show in the cache: from the notification (notification_to_visible) and from Google's event time (change_to_confirmed).",
		Buckets: FreshnessBuckets,
	}, []string{"kind"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "greep_store_errors_total",
		Help: "Cache store operations that failed, by operation (not-found and conflict answers are not failures).",
	}, []string{"op"})
	m.resyncChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "greep_resync_changes_total",
		Help: "Groups a resync found new or changed: changes no notification brought in first.",
	})
	// Every family exists from the start, so a scrape shows zeros instead of nothing.
	for _, k := range []string{"notification_to_visible", "change_to_confirmed"} {
		m.freshness.WithLabelValues(k)
	}
	m.notifications.WithLabelValues("accepted", "")
	m.reg.MustRegister(m.calls, m.notifications, m.lastNotified, m.freshness, m.storeErrors, m.resyncChanges)
	return m
}

// Registry is the registry, for scrape-time collectors and exporters.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format. Mount it behind
// authentication: the figures describe the tenant.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Listen registers fn to hear every event. It runs on the caller's goroutine and must
// not block.
func (m *Metrics) Listen(fn func(Event)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, fn)
}

func (m *Metrics) emit(e Event) {
	m.mu.Lock()
	hooks := m.hooks
	m.mu.Unlock()
	for _, h := range hooks {
		h(e)
	}
}

// ObserveCall is callbudget.CallObserver.
func (m *Metrics) ObserveCall(api, method, outcome string) {
	m.calls.WithLabelValues(api, method, outcome).Inc()
	m.emit(Event{Kind: "call", At: m.now(), API: api, Method: method, Outcome: outcome})
}

// ObserveNotification is push.Observer.
func (m *Metrics) ObserveNotification(channel, outcome, reason string) {
	m.notifications.WithLabelValues(outcome, reason).Inc()
	now := m.now()
	if outcome == "refused" {
		m.mu.Lock()
		if m.refused == nil {
			m.refused = map[string]int64{}
		}
		m.refused[reason]++
		m.mu.Unlock()
	}
	if outcome == "accepted" && channel != "" {
		m.mu.Lock()
		m.lastByCh[channel] = now
		gone := m.forgetOldChannel()
		m.mu.Unlock()
		m.lastNotified.WithLabelValues(channel).Set(float64(now.UnixNano()) / 1e9)
		if gone != "" {
			m.lastNotified.DeleteLabelValues(gone)
		}
	}
	m.emit(Event{Kind: "notification", At: now, Channel: channel, Outcome: outcome, Reason: reason})
}

// ObserveFreshness is directory.FreshnessObserver.
func (m *Metrics) ObserveFreshness(kind string, d time.Duration) {
	m.freshness.WithLabelValues(kind).Observe(d.Seconds())
	m.emit(Event{Kind: "freshness", At: m.now(), Reason: kind, Seconds: d.Seconds()})
}

// ObserveStoreError counts a failed store operation.
func (m *Metrics) ObserveStoreError(op string, err error) {
	m.storeErrors.WithLabelValues(op).Inc()
	now := m.now()
	m.mu.Lock()
	m.lastStore = StoreFailure{At: now, Op: op, Error: err.Error()}
	m.mu.Unlock()
	m.emit(Event{Kind: "storeError", At: now, Reason: op})
}

// ObserveResyncChanges is directory.ResyncObserver.
func (m *Metrics) ObserveResyncChanges(n int) {
	m.resyncChanges.Add(float64(n))
	now := m.now()
	m.mu.Lock()
	m.lastFound = now
	m.mu.Unlock()
	m.emit(Event{Kind: "resyncChanges", At: now, Seconds: float64(n)})
}

// MaxChannels is how many watch channels the metrics remember the last notification of:
// every renewal makes a new channel, so without a bound the map and the gauge's series
// would grow for as long as the process runs. A few channels are live at a time.
const MaxChannels = 64

// forgetOldChannel drops the channel heard from longest ago once more than MaxChannels
// are remembered, and returns it ("" when none is dropped). Called with mu held.
func (m *Metrics) forgetOldChannel() string {
	if len(m.lastByCh) <= MaxChannels {
		return ""
	}
	var oldest string
	for ch, at := range m.lastByCh {
		if oldest == "" || at.Before(m.lastByCh[oldest]) {
			oldest = ch
		}
	}
	delete(m.lastByCh, oldest)
	return oldest
}

// LastResyncChange returns when a resync last found a change (zero if never).
func (m *Metrics) LastResyncChange() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastFound
}

// LastNotifications returns when each channel last delivered an accepted notification
// since the process started.
func (m *Metrics) LastNotifications() map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]time.Time, len(m.lastByCh))
	for k, v := range m.lastByCh {
		out[k] = v
	}
	return out
}

// RefusedNotifications counts the notifications refused since the start, by reason.
func (m *Metrics) RefusedNotifications() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.refused))
	for k, v := range m.refused {
		out[k] = v
	}
	return out
}

// LastStoreFailure returns the last store error seen (zero At if none).
func (m *Metrics) LastStoreFailure() StoreFailure {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastStore
}
