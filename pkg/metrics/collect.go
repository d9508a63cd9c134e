package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/remediation"
)

// StatusSource gives the live figures that are not in the store (the dispatcher's queues
// and the guard's quota use); pkg/api.StatusSource has the same methods.
type StatusSource interface {
	QueueStats(ctx context.Context) (map[string]greep.QueueStat, error)
	QuotaUsage(ctx context.Context) (map[string]greep.QuotaUsage, error)
}

// Store is what a scrape reads of the cache: the sync and sweep documents and findings.
type Store interface {
	State(ctx context.Context, name string) ([]byte, error)
	Findings(ctx context.Context, q greep.FindingQuery) ([]greep.Finding, string, error)
}

// Sources are read at every scrape, so the figures are never older than the scrape.
type Sources struct {
	Status StatusSource
	Store  Store
	// Queues gives each lane's daily cap (the guard's budget); optional.
	Queues *queueconfig.Config
}

// Bounds of a scrape's reads.
const (
	scrapeTimeout    = 10 * time.Second
	findingsPageSize = 500
	// maxFindingPages bounds the findings a scrape counts (50,000): past it the counts
	// are a floor, and greep_findings_truncated says so.
	maxFindingPages = 100
)

// Collect makes every scrape read src.
func (m *Metrics) Collect(src Sources) {
	m.reg.MustRegister(&collector{src: src, now: m.now})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dBacklog    = desc("greep_queue_backlog", "Tasks waiting or running in each queue.", "queue")
	dDispatched = desc("greep_queue_dispatched_total", "Task attempts dispatched by each queue since the process started.", "queue")
	dRetries    = desc("greep_queue_retries_total", "Task attempts that failed and were scheduled again, per queue, since the process started.", "queue")
	dOldest     = desc("greep_queue_oldest_task_age_seconds", "Age of the oldest task waiting in each queue (0 when none waits).", "queue")
	dRate       = desc("greep_queue_rate_per_second", "Each queue's configured dispatch rate (derived from queues.yaml).", "queue")

	dQuotaUsed  = desc("greep_quota_used_today", "Calls counted against each API's daily quota on the current quota day.", "api")
	dQuotaLimit = desc("greep_quota_daily_limit", "Each API's daily quota (queues.yaml perDay).", "api")
	dLaneCap    = desc("greep_quota_lane_cap", "The count at which the budget guard stops each lane (background lanes stop at their dailyBudget).", "api", "lane")

	dSyncState      = desc("greep_sync_state", "1 for the directory sweep's current state (idle, full-sync, resync).", "state")
	dSyncDone       = desc("greep_sync_groups_done", "Groups done by the running (or last) directory sweep.")
	dSyncTotal      = desc("greep_sync_groups_listed", "Groups the running (or last) sweep has listed so far; the total is known only when the listing is complete.")
	dSyncCalls      = desc("greep_sync_calls", "Directory API calls made by the running (or last) sweep.")
	dSyncLastFull   = desc("greep_sync_last_full_timestamp_seconds", "When the last full sync finished (Unix seconds; 0 if never).")
	dSyncLastResync = desc("greep_sync_last_resync_timestamp_seconds", "When the last resync finished (Unix seconds; 0 if never).")
	dCacheGroups    = desc("greep_cache_groups", "Groups in the cache at the last sweep's count.")
	dCacheMembers   = desc("greep_cache_members", "Memberships in the cache at the last sweep's count.")

	dSweepRunning  = desc("greep_settings_sweep_running", "1 while a settings sweep runs.")
	dSweepEnqueued = desc("greep_settings_sweep_reads_enqueued", "Settings reads the current (or last) settings sweep queued so far.")
	dSweepStarted  = desc("greep_settings_sweep_started_timestamp_seconds", "When the current (or last) settings sweep started (Unix seconds; 0 if never).")

	dFindings          = desc("greep_findings", "Remediation findings by state and rule.", "state", "rule")
	dFindingsTruncated = desc("greep_findings_truncated", "1 when a scrape stopped counting findings at its bound, so greep_findings is a floor.")
)

type collector struct {
	src Sources
	now func() time.Time
}

// Describe sends nothing: the collector is unchecked, because which label values exist
// (queues, rules) is only known at scrape time.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if c.src.Status != nil {
		c.queues(ctx, ch)
		c.quota(ctx, ch)
	}
	if c.src.Store != nil {
		c.sync(ctx, ch)
		c.sweep(ctx, ch)
		c.findings(ctx, ch)
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func (c *collector) queues(ctx context.Context, ch chan<- prometheus.Metric) {
	qs, err := c.src.Status.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dBacklog, fmt.Errorf("queue stats: %w", err))
		return
	}
	now := c.now()
	for name, q := range qs {
		gauge(ch, dBacklog, float64(q.Backlog), name)
		counter(ch, dDispatched, float64(q.Dispatched), name)
		counter(ch, dRetries, float64(q.Retries), name)
		gauge(ch, dRate, q.RatePerSecond, name)
		age := 0.0
		if !q.Oldest.IsZero() && now.After(q.Oldest) {
			age = now.Sub(q.Oldest).Seconds()
		}
		gauge(ch, dOldest, age, name)
	}
}

func (c *collector) quota(ctx context.Context, ch chan<- prometheus.Metric) {
	us, err := c.src.Status.QuotaUsage(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dQuotaUsed, fmt.Errorf("quota usage: %w", err))
		return
	}
	for api, u := range us {
		gauge(ch, dQuotaUsed, float64(u.UsedToday), api)
		gauge(ch, dQuotaLimit, float64(u.DailyLimit), api)
	}
	if c.src.Queues == nil {
		return
	}
	for _, name := range c.src.Queues.LaneNames() {
		l := c.src.Queues.Lanes[name]
		if l.API != "" {
			gauge(ch, dLaneCap, float64(l.DailyCap()), l.API, name)
		}
	}
}

// SyncStates are the directory sweep's states.
var SyncStates = []string{"idle", "full-sync", "resync"}

func (c *collector) sync(ctx context.Context, ch chan<- prometheus.Metric) {
	var st greep.SyncState
	if err := loadState(ctx, c.src.Store, greep.StateSync, &st); err != nil {
		ch <- prometheus.NewInvalidMetric(dSyncState, fmt.Errorf("sync state: %w", err))
		return
	}
	state := st.State
	if state == "" {
		state = "idle"
	}
	for _, s := range SyncStates {
		v := 0.0
		if s == state {
			v = 1
		}
		gauge(ch, dSyncState, v, s)
	}
	gauge(ch, dSyncDone, float64(st.GroupsDone))
	gauge(ch, dSyncTotal, float64(st.GroupsTotal))
	gauge(ch, dSyncCalls, float64(st.Calls))
	gauge(ch, dSyncLastFull, unix(st.LastFullSyncAt))
	gauge(ch, dSyncLastResync, unix(st.LastResyncAt))
	gauge(ch, dCacheGroups, float64(st.Groups))
	gauge(ch, dCacheMembers, float64(st.Members))
}

func (c *collector) sweep(ctx context.Context, ch chan<- prometheus.Metric) {
	var sw remediation.SweepState
	if err := loadState(ctx, c.src.Store, remediation.StateSweep, &sw); err != nil {
		ch <- prometheus.NewInvalidMetric(dSweepRunning, fmt.Errorf("settings sweep state: %w", err))
		return
	}
	// Done means every slice is queued; the reads drain from the sweep lane after it.
	running := 0.0
	if !sw.StartedAt.IsZero() && !sw.Done {
		running = 1
	}
	gauge(ch, dSweepRunning, running)
	gauge(ch, dSweepEnqueued, float64(sw.Enqueued))
	gauge(ch, dSweepStarted, unix(sw.StartedAt))
}

func (c *collector) findings(ctx context.Context, ch chan<- prometheus.Metric) {
	counts, truncated, err := CountFindings(ctx, c.src.Store)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dFindings, fmt.Errorf("findings: %w", err))
		return
	}
	for k, n := range counts {
		gauge(ch, dFindings, float64(n), k.State, k.Rule)
	}
	t := 0.0
	if truncated {
		t = 1
	}
	gauge(ch, dFindingsTruncated, t)
}

// loadState decodes the state document name into v; a missing one leaves v zero.
func loadState(ctx context.Context, s Store, name string, v any) error {
	b, err := s.State(ctx, name)
	if errors.Is(err, greep.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// FindingKey is one cell of the findings table.
type FindingKey struct{ State, Rule string }

// CountFindings counts findings by state and rule, reading at most maxFindingPages pages;
// truncated reports that it stopped there.
func CountFindings(ctx context.Context, s Store) (counts map[FindingKey]int, truncated bool, err error) {
	counts = map[FindingKey]int{}
	q := greep.FindingQuery{Page: greep.Page{Limit: findingsPageSize}}
	for range maxFindingPages {
		fs, next, err := s.Findings(ctx, q)
		if err != nil {
			return nil, false, err
		}
		for _, f := range fs {
			counts[FindingKey{f.State, f.Rule}]++
		}
		if next == "" {
			return counts, false, nil
		}
		q.Token = next
	}
	return counts, true, nil
}
