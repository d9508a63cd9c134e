package api

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"num": func(n int64) string { return groupDigits(n) },
}).ParseFS(templateFS, "templates/*.html"))

// dashboardView is what the dashboard shows, computed from the status, findings and
// history by buildDashboard (pure, so its arithmetic is tested without a browser).
type dashboardView struct {
	Now       string
	Sync      syncView
	Queues    []queueView
	Quota     []quotaView
	Channels  []channelView
	Findings  []findingView
	MoreFinds bool
	Events    []eventView
	Errors    []string
	// The operator's view (dashboard_ops.go).
	Alerts        []alertView
	SettingsSweep *settingsView
	Refused       int64
	FindingTotals []findingTotal
	FindingState  string
	Charts        []chartView
}

type syncView struct {
	State, LastFull, LastResync, Freshness string
	Stale                                  bool
	Running                                bool
	Done, Total, Groups, Members, Calls    int64
	Percent                                int
	Rate, ETA                              string
	Failures                               []greep.SyncFailure
	// TotalKnown is false while the listing goes on: Total is then only the groups
	// listed so far, and no percentage or ETA can be told. CachedSoFar marks Groups as
	// the groups the running first sync has stored so far.
	TotalKnown, CachedSoFar bool
	Kind                    string
}

type queueView struct {
	Name                         string
	Rate                         string
	Achieved                     string
	Backlog, Dispatched, Retries int64
	Drain                        string
}

type quotaView struct {
	API                    string
	Used, Limit, Projected int64
	UsedPct, ProjPct       int
	ResetIn                string
	Over, Warn             bool
}

type channelView struct {
	ID, Application, State, ExpiresIn string
	Expiring                          bool
	LastNotification                  string
}

type findingView struct{ Group, Rule, Field, Before, After, FirstSeen, Severity string }

type eventView struct{ Time, Actor, Event, Group, Detail string }

// staleAfter is how old the last completed sync may be before the dashboard flags it.
const staleAfter = 24 * time.Hour

func buildDashboard(now time.Time, st statusAnswer, findings []greep.Finding, moreFindings bool, events []greep.Event) dashboardView {
	v := dashboardView{Now: now.UTC().Format("2006-01-02 15:04:05 MST"), Errors: st.Errors, MoreFinds: moreFindings}

	s := st.Sync
	v.Sync = syncView{State: s.State, Done: s.GroupsDone, Total: s.GroupsTotal, Groups: s.Groups, Members: s.Members, Calls: s.Calls, Failures: s.Failures}
	v.Sync.LastFull, v.Sync.LastResync = ago(now, s.LastFullSyncAt), ago(now, s.LastResyncAt)
	latest := st.SyncedAt
	v.Sync.Freshness = "never synced"
	if !latest.IsZero() {
		v.Sync.Freshness = "cache as of " + ago(now, &latest)
		v.Sync.Stale = now.Sub(latest) > staleAfter
	} else {
		v.Sync.Stale = true
	}
	syncProgress(now, s, &v.Sync)

	for _, name := range sortedKeys(st.Queues) {
		q := st.Queues[name]
		qv := queueView{Name: name, Rate: fmt.Sprintf("%.2f/s", q.RatePerSecond), Backlog: q.Backlog, Dispatched: q.Dispatched, Retries: q.Retries, Drain: "—"}
		if q.Backlog == 0 {
			qv.Drain = "empty"
		} else if q.RatePerSecond > 0 {
			qv.Drain = duration(time.Duration(float64(q.Backlog) / q.RatePerSecond * float64(time.Second)))
			if qv.Drain == "0s" {
				qv.Drain = "<1s"
			}
		}
		v.Queues = append(v.Queues, qv)
	}

	if len(st.Projection) > 0 {
		v.Quota = guardProjection(now, st.Projection)
	} else {
		for _, name := range sortedKeys(st.Quota) {
			v.Quota = append(v.Quota, quotaProjection(now, name, st.Quota[name]))
		}
	}
	opsView(now, st, &v)

	for _, c := range st.Channels {
		cv := channelView{ID: c.ID, Application: c.Application, State: c.State, ExpiresIn: "expired"}
		if left := c.Expiration.Sub(now); left > 0 {
			cv.ExpiresIn = duration(left)
			cv.Expiring = left < time.Hour
		} else {
			cv.Expiring = true
		}
		cv.LastNotification = ago(now, c.LastNotification)
		v.Channels = append(v.Channels, cv)
	}

	for _, f := range findings {
		v.Findings = append(v.Findings, findingView{Group: f.Group, Rule: f.Rule, Field: f.Field, Before: f.Before, After: f.After, FirstSeen: ago(now, &f.FirstSeen), Severity: severityNames[severity(f)]})
	}

	// Most recent first.
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		d := e.Member
		if e.Setting != "" {
			d = e.Setting + ": " + e.OldValue + " → " + e.NewValue
		} else if e.OldValue != "" || e.NewValue != "" {
			d = strings.TrimSpace(e.Member + " " + e.OldValue + " → " + e.NewValue)
		}
		v.Events = append(v.Events, eventView{Time: e.Time.UTC().Format("01-02 15:04:05"), Actor: e.Actor, Event: e.Event, Group: e.Group, Detail: d})
	}
	return v
}

// quotaProjection extrapolates today's use to the reset at the pace of the quota day so
// far: used / elapsed × day.
func quotaProjection(now time.Time, api string, q greep.QuotaUsage) quotaView {
	v := quotaView{API: api, Used: q.UsedToday, Limit: q.DailyLimit, Projected: q.UsedToday, ResetIn: "—"}
	if !q.ResetAt.IsZero() {
		day := 24 * time.Hour
		elapsed := day - q.ResetAt.Sub(now)
		if left := q.ResetAt.Sub(now); left > 0 {
			v.ResetIn = duration(left)
		}
		if elapsed > time.Minute && elapsed < day {
			v.Projected = int64(math.Round(float64(q.UsedToday) * float64(day) / float64(elapsed)))
		}
	}
	if q.DailyLimit > 0 {
		v.UsedPct = int(min(100, q.UsedToday*100/q.DailyLimit))
		v.ProjPct = int(min(999, v.Projected*100/q.DailyLimit))
		v.Over = v.Projected > q.DailyLimit
		v.Warn = !v.Over && v.ProjPct >= 80
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func ago(now time.Time, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := now.Sub(*t)
	if d < 0 {
		return "just now"
	}
	return duration(d) + " ago"
}

// duration rounds d for people: "3h 20m", "4m 05s", "12s".
func duration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
}

func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Limits of what the dashboard reads per view.
const (
	dashFindings    = 50
	dashEvents      = 25
	dashEventPages  = 5
	dashEventWindow = 24 * time.Hour
)

// GET / (status.read).
func (s *server) dashboard(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "dashboard.html", s.dashboardView(r)); err != nil {
		s.log.Error("rendering the dashboard", zap.Error(err))
		writeGoogleError(w, http.StatusInternalServerError, "backendError", "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", dashboardCSP)
	w.Write(buf.Bytes())
}

// dashboardCSP lets the page run its one script from this origin and fetch its live
// view; nothing else.
const dashboardCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'"

// dashboardView reads everything the dashboard shows for the request's principal.
func (s *server) dashboardView(r *http.Request) dashboardView {
	ctx := r.Context()
	now := s.now()
	st := s.collectStatus(ctx)
	s.sampleBacklog(now, st.Queues)
	p := principalFrom(ctx)

	var findings []greep.Finding
	more := false
	state := s.queries.of(r).Get("findings")
	if !slices.Contains([]string{greep.FindingOpen, greep.FindingFailed, greep.FindingFixed, greep.FindingExempt}, state) {
		state = greep.FindingOpen
	}
	if p.Can(auth.ScopeFindings) {
		fs, next, err := s.store.Findings(ctx, greep.FindingQuery{State: state, Page: greep.Page{Limit: dashFindings}})
		if err != nil {
			st.Errors = append(st.Errors, "findings: "+greep.ErrorMessage(err))
		}
		for _, f := range fs {
			if p.CanSeeGroup(f.Group) {
				findings = append(findings, f)
			}
		}
		more = next != ""
		newestFirst(findings)
	}
	var events []greep.Event
	if p.Can(auth.ScopeHistory) {
		var err error
		if events, err = s.recentEvents(ctx, now); err != nil {
			st.Errors = append(st.Errors, "history: "+greep.ErrorMessage(err))
		}
		events = slices.DeleteFunc(events, func(e greep.Event) bool { return !p.CanSeeGroup(e.Group) })
	}

	v := buildDashboard(now, st, findings, more, events)
	v.FindingState = state
	// Totals are counted over every group: only a client that sees them all gets them.
	if p.Can(auth.ScopeFindings) && p.AllGroups() {
		if counts, _, err := metrics.CountFindings(ctx, s.store); err != nil {
			v.Errors = append(v.Errors, "finding totals: "+greep.ErrorMessage(err))
		} else {
			v.FindingTotals = findingTotals(counts)
		}
	}
	achieved := s.rates.achieved(now, st.Queues)
	for i := range v.Queues {
		if r, ok := achieved[v.Queues[i].Name]; ok {
			v.Queues[i].Achieved = fmt.Sprintf("%.2f/s", r)
		}
	}
	v.Charts = charts(s.history, now)
	return v
}

// recentEvents returns up to dashEvents of the latest events, oldest first. The history
// is listed oldest first, so it looks back through widening windows and reads a bounded
// number of pages of each: a busy tenant's last minutes are enough to fill the table.
func (s *server) recentEvents(ctx context.Context, now time.Time) ([]greep.Event, error) {
	var out []greep.Event
	for _, window := range []time.Duration{10 * time.Minute, time.Hour, 6 * time.Hour, dashEventWindow} {
		out = out[:0]
		q := greep.EventQuery{Since: now.Add(-window), Page: greep.Page{Limit: 200}}
		complete := false
		for range dashEventPages {
			evs, next, err := s.store.Events(ctx, q)
			if err != nil {
				return nil, err
			}
			out = append(out, evs...)
			if len(out) > dashEvents {
				out = out[len(out)-dashEvents:]
			}
			if next == "" {
				complete = true
				break
			}
			q.Token = next
		}
		if !complete || len(out) >= dashEvents {
			break
		}
	}
	return out, nil
}
