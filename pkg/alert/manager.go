package alert

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// StateAlerts names the store document that keeps the alerts firing: every instance
// judging reads and writes it in one transaction, so each occurrence is announced once
// however many instances (or restarts) judge it.
const StateAlerts = "ops/alerts"

// Sink takes messages (a *Sender).
type Sink interface{ Send(text string) }

// Manager keeps the alerts firing in the store and announces each occurrence once when
// it starts and once when it ends. While the store cannot record them (the store-writes
// alert's very case) it judges against what it last knew and announces anyway; the
// first update the store takes again records what was announced meanwhile, so nothing is
// announced twice.
type Manager struct {
	cfg   Config
	store greep.StateStore
	sink  Sink

	mu sync.Mutex
	// last is the set the store last recorded; offline what this process announced
	// since the store stopped taking updates (nil while it takes them).
	last, offline map[string]Alert
}

// firing is the stored document: the alerts firing by key.
type firing struct {
	Alerts map[string]Alert `json:"alerts,omitempty"`
}

// NewManager returns a manager judging with cfg, keeping its state in store and
// announcing to sink (nil: nothing is sent, the alerts are still shown).
func NewManager(cfg Config, store greep.StateStore, sink Sink) *Manager {
	return &Manager{cfg: cfg, store: store, sink: sink}
}

// Update judges in and announces what started and what ended. The announcements follow
// the store's commit: a transaction that lost a race to another instance is run again on
// what that instance wrote, and announces only what is still news.
func (m *Manager) Update(ctx context.Context, in Inputs) error {
	now := Evaluate(m.cfg, in)
	m.mu.Lock()
	defer m.mu.Unlock()
	var started, ended []Alert
	f, err := greep.UpdateStateJSON(ctx, m.store, StateAlerts, func(f *firing) error {
		if m.offline != nil {
			f.Alerts = maps.Clone(m.offline)
		}
		f.Alerts, started, ended = transition(f.Alerts, now, in.Unknown)
		return nil
	})
	if err != nil {
		base := m.offline
		if base == nil {
			base = maps.Clone(m.last)
		}
		m.offline, started, ended = transition(base, now, in.Unknown)
		err = fmt.Errorf("alert: recording the alerts firing: %w", err)
	} else {
		m.last, m.offline = f.Alerts, nil
	}
	if m.sink != nil {
		for _, a := range started {
			m.sink.Send(":rotating_light: Greep alert: " + a.Text)
		}
		for _, a := range ended {
			m.sink.Send(":white_check_mark: Greep alert resolved: " + a.Text)
		}
	}
	return err
}

// transition is the set firing after the alerts now were judged on cur, and what started
// and ended. Kinds whose figures are unknown neither start nor end.
func transition(cur map[string]Alert, now []Alert, unknown []string) (next map[string]Alert, started, ended []Alert) {
	next = make(map[string]Alert, len(now))
	for k, a := range cur {
		if slices.Contains(unknown, a.Kind) {
			next[k] = a
		}
	}
	for _, a := range now {
		if slices.Contains(unknown, a.Kind) {
			continue
		}
		if c, ok := cur[a.Key]; ok {
			a.Since = c.Since // the occurrence goes on; its text follows the figures
		} else {
			started = append(started, a)
		}
		next[a.Key] = a
	}
	for k, a := range cur {
		if _, ok := next[k]; !ok {
			ended = append(ended, a)
		}
	}
	sortAlerts(ended)
	return next, started, ended
}

// Firing returns the alerts firing, ordered by key. While the store takes no updates it
// is what this process announced; when the store cannot be read, what it last recorded,
// with the error.
func (m *Manager) Firing(ctx context.Context) ([]Alert, error) {
	m.mu.Lock()
	offline, last := maps.Clone(m.offline), maps.Clone(m.last)
	m.mu.Unlock()
	if offline != nil {
		return sorted(offline), nil
	}
	var f firing
	if _, err := greep.LoadState(ctx, m.store, StateAlerts, &f); err != nil {
		return sorted(last), fmt.Errorf("alert: reading the alerts firing: %w", err)
	}
	return sorted(f.Alerts), nil
}

func sorted(firing map[string]Alert) []Alert {
	out := make([]Alert, 0, len(firing))
	for _, a := range firing {
		out = append(out, a)
	}
	sortAlerts(out)
	return out
}
