package api

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

type alertView struct{ Kind, Text, Since string }

type settingsView struct {
	State, Started, Finished string
	Enqueued                 int
	Groups, Backlog          int64
	Running                  bool
}

type findingTotal struct {
	Rule                        string
	Open, Fixed, Exempt, Failed int
}

// syncProgress fills the sync view's progress. The total is known only once the listing
// is complete: before that a percentage ("96%, 768 of 800") would read the groups listed
// so far as the tenant, so the view shows what is done and the rate, and no ETA.
func syncProgress(now time.Time, s syncStatus, v *syncView) {
	v.Running = s.State != "" && s.State != "idle" && s.State != "never synced"
	switch s.State {
	case "full-sync":
		v.Kind = "Full sync"
	case "resync":
		v.Kind = "Resync"
	}
	v.TotalKnown = s.ListingDone && s.GroupsTotal > 0
	if v.TotalKnown {
		v.Percent = int(min(100, s.GroupsDone*100/s.GroupsTotal))
	}
	// The first full sync stores groups as it goes; the cache's count is written at its end.
	if v.Running && s.LastFullSyncAt == nil && s.GroupsDone > v.Groups {
		v.Groups, v.CachedSoFar = s.GroupsDone, true
	}
	if s.StartedAt == nil || !v.Running {
		return
	}
	el := now.Sub(*s.StartedAt).Seconds()
	if el <= 0 || s.GroupsDone == 0 {
		return
	}
	v.Rate = fmt.Sprintf("%.1f groups/s, %.1f calls/s", float64(s.GroupsDone)/el, float64(s.Calls)/el)
	if v.TotalKnown {
		left := float64(s.GroupsTotal-s.GroupsDone) / (float64(s.GroupsDone) / el)
		v.ETA = duration(time.Duration(left * float64(time.Second)))
	}
}

// guardProjection shows the projection that knows the guard's budgets and the sweeps
// still to run (alert.Project), instead of a straight line from today's use.
func guardProjection(now time.Time, ps []quotaProjectionDTO) []quotaView {
	var out []quotaView
	for _, p := range ps {
		v := quotaView{API: p.API, Used: p.Used, Limit: p.Limit, Projected: p.Projected, ResetIn: "—"}
		if left := p.ResetAt.Sub(now); left > 0 {
			v.ResetIn = duration(left)
		}
		if p.Limit > 0 {
			v.UsedPct = int(min(100, p.Used*100/p.Limit))
			v.ProjPct = int(min(999, p.Projected*100/p.Limit))
			v.Over = p.Projected > p.Limit
			v.Warn = !v.Over && v.ProjPct >= 80
		}
		out = append(out, v)
	}
	return out
}

// opsView adds the alerts, the settings sweep and push health to the view.
func opsView(now time.Time, st statusAnswer, v *dashboardView) {
	for _, a := range st.Alerts {
		v.Alerts = append(v.Alerts, alertView{Kind: a.Kind, Text: a.Text, Since: ago(now, &a.Since)})
	}
	if sw := st.SettingsSweep; sw != nil {
		v.SettingsSweep = &settingsView{State: sw.State, Started: ago(now, sw.StartedAt), Finished: ago(now, sw.Finished),
			Enqueued: sw.Enqueued, Groups: sw.Groups, Backlog: sw.Backlog, Running: sw.State != "idle"}
	}
	v.Refused = refusedSum(st.Push)
}

// findingTotals counts findings per rule and state, rules with open ones first.
func findingTotals(counts map[metrics.FindingKey]int) []findingTotal {
	by := map[string]*findingTotal{}
	for k, n := range counts {
		t := by[k.Rule]
		if t == nil {
			t = &findingTotal{Rule: k.Rule}
			by[k.Rule] = t
		}
		switch k.State {
		case greep.FindingOpen:
			t.Open += n
		case greep.FindingFixed:
			t.Fixed += n
		case greep.FindingExempt:
			t.Exempt += n
		case greep.FindingFailed:
			t.Failed += n
		}
	}
	out := make([]findingTotal, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b findingTotal) int {
		if a.Failed+a.Open != b.Failed+b.Open {
			return (b.Failed + b.Open) - (a.Failed + a.Open)
		}
		if a.Rule < b.Rule {
			return -1
		}
		return 1
	})
	return out
}

// newestFirst orders findings for the table: failed before open (a failed patch needs a
// person), then the most severe (dashboard_severity.go), then the most recently seen.
func newestFirst(fs []greep.Finding) {
	slices.SortStableFunc(fs, func(a, b greep.Finding) int {
		if (a.State == greep.FindingFailed) != (b.State == greep.FindingFailed) {
			if a.State == greep.FindingFailed {
				return -1
			}
			return 1
		}
		if sa, sb := severity(a), severity(b); sa != sb {
			return sb - sa
		}
		return b.FirstSeen.Compare(a.FirstSeen)
	})
}

// rates remembers the queues' dispatched counts for a few minutes, so the dashboard shows
// the rate achieved beside the configured one.
type rates struct {
	mu      sync.Mutex
	samples []rateSample
}

type rateSample struct {
	at         time.Time
	dispatched map[string]int64
}

// rateWindow is how far back the achieved rate looks.
const rateWindow = 5 * time.Minute

// achieved records the counts at now and returns each queue's rate over the window (a
// queue without two samples a second apart has none yet).
func (r *rates) achieved(now time.Time, qs map[string]greep.QueueStat) map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := rateSample{at: now, dispatched: map[string]int64{}}
	for name, q := range qs {
		cur.dispatched[name] = q.Dispatched
	}
	r.samples = append(r.samples, cur)
	for len(r.samples) > 1 && now.Sub(r.samples[0].at) > rateWindow {
		r.samples = r.samples[1:]
	}
	out := map[string]float64{}
	first := r.samples[0]
	el := now.Sub(first.at).Seconds()
	if el < 1 {
		return out
	}
	for name, n := range cur.dispatched {
		if d := n - first.dispatched[name]; d >= 0 {
			out[name] = float64(d) / el
		}
	}
	return out
}
