package alert

import (
	"slices"
	"sync"
)

// Sink takes messages (a *Sender).
type Sink interface{ Send(text string) }

// Manager keeps the alerts firing and announces each occurrence once when it starts and
// once when it ends. It forgets on restart: an alert still firing then is announced again.
type Manager struct {
	cfg  Config
	sink Sink

	mu     sync.Mutex
	firing map[string]Alert
}

// NewManager returns a manager judging with cfg and announcing to sink (nil: nothing is
// sent, the alerts are still shown).
func NewManager(cfg Config, sink Sink) *Manager {
	return &Manager{cfg: cfg, sink: sink, firing: map[string]Alert{}}
}

// Update judges in and announces what started and what ended.
func (m *Manager) Update(in Inputs) {
	now := Evaluate(m.cfg, in)
	m.mu.Lock()
	var started []Alert
	var ended []Alert
	seen := map[string]bool{}
	for _, a := range now {
		if slices.Contains(in.Unknown, a.Kind) {
			continue
		}
		seen[a.Key] = true
		if cur, ok := m.firing[a.Key]; ok {
			a.Since = cur.Since // the occurrence goes on; its text follows the figures
		} else {
			started = append(started, a)
		}
		m.firing[a.Key] = a
	}
	for k, a := range m.firing {
		if !seen[k] && !slices.Contains(in.Unknown, a.Kind) {
			ended = append(ended, a)
			delete(m.firing, k)
		}
	}
	m.mu.Unlock()
	sortAlerts(ended)
	if m.sink == nil {
		return
	}
	for _, a := range started {
		m.sink.Send(":rotating_light: Greep alert: " + a.Text)
	}
	for _, a := range ended {
		m.sink.Send(":white_check_mark: Greep alert resolved: " + a.Text)
	}
}

// Firing returns the alerts firing, ordered by key.
func (m *Manager) Firing() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Alert, 0, len(m.firing))
	for _, a := range m.firing {
		out = append(out, a)
	}
	sortAlerts(out)
	return out
}
