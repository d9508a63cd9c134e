// Package alert turns the figures ops watch into messages: each condition is judged on a
// snapshot of Greep's state (Evaluate, pure), a Manager keeps what is firing and sends one
// message when a condition starts and one when it ends, and a Sender posts them to the
// Slack-compatible webhook findings use, off the workers' path (bounded queue, timeout,
// retries, dropped with a log line after the last).
package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// Kinds of alert.
const (
	KindLaneBudget       = "lane-budget"
	KindSweepOverdue     = "sweep-overdue"
	KindChannelUnrenewed = "channel-unrenewed"
	KindPushSilent       = "push-silent"
	KindStoreWrites      = "store-writes"
	KindPatchFailures    = "patch-failures"
)

// Alert is one condition firing. Key names the occurrence's subject (a lane, a sweep, a
// channel's application), so two lanes over budget are two alerts.
type Alert struct {
	Key   string    `json:"key"`
	Kind  string    `json:"kind"`
	Text  string    `json:"text"`
	Since time.Time `json:"since"`
}

// Lane is one queue's daily budget and what its work is projected to bring the API's
// count to by the quota reset.
type Lane struct {
	Name, API string
	// Background lanes (sweeps) alert only while they have Work (calls) left to do: a
	// sweep lane at its budget with nothing to run loses nothing.
	Background bool
	Work       int64
	Cap        int64 // where the guard stops the lane
	Used       int64 // the API's count today
	Projected  int64 // the API's count at the reset, with the lane's work still to do
	ResetAt    time.Time
}

// Sweep is a running sweep and how long it should take.
type Sweep struct {
	Name      string // "full sync", "resync", "settings sweep"
	Running   bool
	StartedAt time.Time
	Expected  time.Duration
}

// Inputs is the snapshot the conditions are judged on, all on one clock.
type Inputs struct {
	Now      time.Time
	Started  time.Time // when the process started: push silence counts from here at most
	Lanes    []Lane
	Sweeps   []Sweep
	Channels []greep.Channel
	// PushExpected is false where no channel is meant to exist (push off).
	PushExpected     bool
	LastNotification time.Time
	LastResyncChange time.Time
	StoreFailureAt   time.Time
	StoreFailure     string
	FailedFindings   []greep.Finding
	FailedTruncated  bool
	// Unknown lists the kinds whose figures could not be read (a store that fails reads
	// too): their alerts neither start nor end on this snapshot.
	Unknown []string
}

// Config tunes the conditions.
type Config struct {
	// PushSilence is how long no notification may arrive while the resync finds changes
	// before push is called broken (default 1 h).
	PushSilence time.Duration
	// StoreWindow is how long a store write failure keeps its alert firing (default 5 min).
	StoreWindow time.Duration
	// RenewMargin is how long before its expiry a channel without a successor is
	// alerted on (default 15 min; the renewal runs every 10 min and renews well before).
	RenewMargin time.Duration
}

func (c Config) withDefaults() Config {
	if c.PushSilence <= 0 {
		c.PushSilence = time.Hour
	}
	if c.StoreWindow <= 0 {
		c.StoreWindow = 5 * time.Minute
	}
	if c.RenewMargin <= 0 {
		c.RenewMargin = 15 * time.Minute
	}
	return c
}

// Evaluate returns the alerts in firing, ordered by key. Since is the snapshot's time;
// the Manager keeps the first one of an occurrence.
func Evaluate(cfg Config, in Inputs) []Alert {
	cfg = cfg.withDefaults()
	var out []Alert
	add := func(kind, subject, format string, args ...any) {
		key := kind
		if subject != "" {
			key += "/" + subject
		}
		out = append(out, Alert{Key: key, Kind: kind, Text: fmt.Sprintf(format, args...), Since: in.Now})
	}

	for _, l := range in.Lanes {
		if l.Cap > 0 && l.Projected > l.Cap && (!l.Background || l.Work > 0) {
			add(KindLaneBudget, l.Name, "the %s lane is projected to bring the %s API to %s calls by the quota reset (%s), over its budget of %s (used so far: %s): its work stops at the budget until the reset",
				l.Name, l.API, num(l.Projected), l.ResetAt.UTC().Format("15:04 MST"), num(l.Cap), num(l.Used))
		}
	}

	for _, s := range in.Sweeps {
		if s.Running && s.Expected > 0 && in.Now.Sub(s.StartedAt) > 2*s.Expected {
			add(KindSweepOverdue, strings.ReplaceAll(s.Name, " ", "-"), "the %s has run for %s, more than twice the %s it should take: look at the quota and the sweep lane's backlog and retries",
				s.Name, round(in.Now.Sub(s.StartedAt)), round(s.Expected))
		}
	}

	if in.PushExpected {
		latest := map[string]greep.Channel{}
		for _, c := range in.Channels {
			if c.State != "live" {
				continue
			}
			if cur, ok := latest[c.Application]; !ok || c.Expiration.After(cur.Expiration) {
				latest[c.Application] = c
			}
		}
		apps := make([]string, 0, len(latest))
		for a := range latest {
			apps = append(apps, a)
		}
		slices.Sort(apps)
		for _, a := range apps {
			c := latest[a]
			if left := c.Expiration.Sub(in.Now); left <= cfg.RenewMargin {
				when := "expires in " + round(left)
				if left <= 0 {
					when = "expired " + round(-left) + " ago"
				}
				add(KindChannelUnrenewed, a, "the %s watch channel %s %s and no renewal replaced it: push notifications for %s stop, and only the resync brings changes in", a, c.ID, when, a)
			}
		}
	}

	since := in.Started
	if in.LastNotification.After(since) {
		since = in.LastNotification
	}
	if in.PushExpected && in.LastResyncChange.After(since) && in.Now.Sub(since) > cfg.PushSilence {
		last := "none since the start"
		if !in.LastNotification.IsZero() {
			last = "the last " + round(in.Now.Sub(in.LastNotification)) + " ago"
		}
		add(KindPushSilent, "", "no push notification for %s (%s), yet the resync found changes %s ago: push looks broken (channels, the webhook's address, or Google's delivery)",
			round(in.Now.Sub(since)), last, round(in.Now.Sub(in.LastResyncChange)))
	}

	if !in.StoreFailureAt.IsZero() && in.Now.Sub(in.StoreFailureAt) <= cfg.StoreWindow {
		add(KindStoreWrites, "", "store writes are failing (last %s ago): %s", round(in.Now.Sub(in.StoreFailureAt)), in.StoreFailure)
	}

	if n := len(in.FailedFindings); n > 0 {
		f := in.FailedFindings[0]
		more := ""
		if in.FailedTruncated {
			more = " or more"
		}
		add(KindPatchFailures, "", "%d finding(s)%s failed to patch, e.g. %s, rule %s: %s", n, more, f.Group, f.Rule, f.Detail)
	}

	sortAlerts(out)
	return out
}

func sortAlerts(as []Alert) {
	slices.SortFunc(as, func(a, b Alert) int { return strings.Compare(a.Key, b.Key) })
}

func round(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

func num(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
