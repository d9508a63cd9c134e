package reports

import (
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// Channel states (greep.Channel.State).
const (
	// StatePending is a channel whose watch call is in flight: it is stored before the
	// call, because Google may push the sync message (and events) before the call returns.
	StatePending = "pending"
	StateLive    = "live"
	StateStopped = "stopped"
	// StateFailed is a channel whose watch call failed. Its notifications are refused.
	StateFailed = "failed"
)

// MaxLifetime is the longest a Reports API channel lives (21,600 s).
const MaxLifetime = 6 * time.Hour

// Policy says how the watch channels are kept. The zero value of each field means its
// default.
type Policy struct {
	// Applications to watch (default admin and groups).
	Applications []string
	// Lifetime asked for each channel (default and maximum MaxLifetime).
	Lifetime time.Duration
	// RenewAfter is the fraction of a channel's lifetime after which its successor is
	// created (default 0.8: at 4.8 h of 6 h, leaving over an hour for a renewal that is
	// late or retried).
	RenewAfter float64
	// Overlap is how long a new channel and the one it replaces both stay live before the
	// old one is stopped (default 5 minutes), so an event pushed around the switch reaches
	// at least one of them; the webhook records duplicates once.
	Overlap time.Duration
	// PendingTimeout is how long a watch call may stay in flight before a new attempt is
	// planned (default 2 minutes).
	PendingTimeout time.Duration
	// Keep is how long stopped, failed and expired channels stay listed for the status
	// page (default 24 h).
	Keep time.Duration
	// ReconcileEvery is how much unchecked time the cron lets pass before it lists it
	// with activities.list (reconcile.go): what push did not deliver while the channel
	// stayed live (default 1 h; negative: never).
	ReconcileEvery time.Duration
	// ReconcileSettle is how far behind now a reconciliation ends, so that what Google
	// logged just before is listable by then (default 10 minutes).
	ReconcileSettle time.Duration
}

// WithDefaults fills in the defaults and checks the values.
func (p Policy) WithDefaults() (Policy, error) {
	if len(p.Applications) == 0 {
		p.Applications = []string{"admin", "groups"}
	}
	if p.Lifetime == 0 {
		p.Lifetime = MaxLifetime
	}
	if p.RenewAfter == 0 {
		p.RenewAfter = 0.8
	}
	if p.Overlap == 0 {
		p.Overlap = 5 * time.Minute
	}
	if p.PendingTimeout == 0 {
		p.PendingTimeout = 2 * time.Minute
	}
	if p.Keep == 0 {
		p.Keep = 24 * time.Hour
	}
	if p.ReconcileEvery == 0 {
		p.ReconcileEvery = time.Hour
	}
	if p.ReconcileSettle == 0 {
		p.ReconcileSettle = 10 * time.Minute
	}
	switch {
	case p.Lifetime < 0 || p.Lifetime > MaxLifetime:
		return p, fmt.Errorf("channel lifetime %v: must be positive and at most %v", p.Lifetime, MaxLifetime)
	case p.RenewAfter <= 0 || p.RenewAfter >= 1:
		return p, fmt.Errorf("renew-after fraction %v: must be between 0 and 1", p.RenewAfter)
	case p.Overlap < 0 || p.PendingTimeout < 0 || p.Keep < 0 || p.ReconcileSettle < 0:
		return p, fmt.Errorf("overlap, pending timeout, keep and reconcile settle must not be negative")
	case time.Duration(float64(p.Lifetime)*(1-p.RenewAfter)) <= p.Overlap:
		return p, fmt.Errorf("overlap %v must be shorter than the %v a channel lives after its renewal",
			p.Overlap, time.Duration(float64(p.Lifetime)*(1-p.RenewAfter)))
	}
	return p, nil
}

// Action kinds.
const (
	Create = "create"
	Stop   = "stop"
)

// Action is one Reports API call the channels need now.
type Action struct {
	Kind        string
	Application string
	// Channel is the channel to stop (Stop), or the one the new channel replaces (Create;
	// zero when the application has no live channel).
	Channel greep.Channel
}

// Live reports whether ch can deliver notifications at now.
func Live(ch greep.Channel, now time.Time) bool {
	return ch.State == StateLive && now.Before(ch.Expiration)
}

// RenewAt is when a successor of ch is due.
func (p Policy) RenewAt(ch greep.Channel) time.Time {
	life := ch.Expiration.Sub(ch.CreatedAt)
	return ch.CreatedAt.Add(time.Duration(float64(life) * p.RenewAfter))
}

// Plan returns the calls due at now, per application in the policy's order: a Create when
// the application has no live channel or its newest is due for renewal (and no watch call
// is already in flight), and a Stop for every live channel older than the newest once the
// newest has been live for Overlap. It never stops an application's newest live channel,
// so while Google keeps its promises there is always one. p must have its defaults.
func (p Policy) Plan(channels []greep.Channel, now time.Time) []Action {
	var out []Action
	for _, app := range p.Applications {
		var newest *greep.Channel
		inFlight := false
		for i := range channels {
			ch := &channels[i]
			if ch.Application != app {
				continue
			}
			if ch.State == StatePending && now.Sub(ch.CreatedAt) < p.PendingTimeout {
				inFlight = true
			}
			if Live(*ch, now) && (newest == nil || newer(*ch, *newest)) {
				newest = ch
			}
		}
		if !inFlight && (newest == nil || !now.Before(p.RenewAt(*newest))) {
			a := Action{Kind: Create, Application: app}
			if newest != nil {
				a.Channel = *newest
			}
			out = append(out, a)
		}
		if newest == nil || now.Before(newest.CreatedAt.Add(p.Overlap)) {
			continue
		}
		for _, ch := range channels {
			if ch.Application == app && ch.ID != newest.ID && Live(ch, now) {
				out = append(out, Action{Kind: Stop, Application: app, Channel: ch})
			}
		}
	}
	return out
}

// newer orders channels by creation, then expiration, then id, so every caller agrees on
// which one is the newest.
func newer(a, b greep.Channel) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	if !a.Expiration.Equal(b.Expiration) {
		return a.Expiration.After(b.Expiration)
	}
	return a.ID > b.ID
}

// Prune drops the channels whose expiration passed more than Keep ago: whatever their
// state, they deliver nothing, and the status page has shown them for a day.
func (p Policy) Prune(channels []greep.Channel, now time.Time) []greep.Channel {
	out := channels[:0:0]
	for _, ch := range channels {
		if now.Sub(ch.Expiration) > p.Keep {
			continue
		}
		out = append(out, ch)
	}
	return out
}
