package faults

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/greephq/greep/pkg/workspacesim"
)

// Write is one Groups Settings PATCH or PUT the simulator answered.
type Write struct {
	Epoch   int64 // which run of Greep sent it (the scenario moves the epoch at each restart)
	Status  int   // 0 when no answer was sent (cut off)
	Changed bool  // the group's true settings differ after it
}

// WriteLog records every settings write per group, with whether it changed anything: the
// simulator's call counter counts attempts (injected failures included), this says which
// patch was applied and which one re-sent a value already there. Serve the simulator
// through it.
type WriteLog struct {
	sim   *workspacesim.Sim
	next  http.Handler
	epoch atomic.Int64

	mu      sync.Mutex
	byGroup map[string][]Write
}

// NewWriteLog records the settings writes next (sim, or a handler in front of it) answers,
// reading sim's truth before and after each.
func NewWriteLog(sim *workspacesim.Sim, next http.Handler) *WriteLog {
	return &WriteLog{sim: sim, next: next, byGroup: map[string][]Write{}}
}

// SettingsPath is the path prefix of the Groups Settings API's group resource.
const SettingsPath = "/groups/v1/groups/"

func (l *WriteLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (r.Method != http.MethodPatch && r.Method != http.MethodPut) || !strings.HasPrefix(r.URL.Path, SettingsPath) {
		l.next.ServeHTTP(w, r)
		return
	}
	group, err := url.PathUnescape(strings.TrimPrefix(r.URL.Path, SettingsPath))
	if err != nil {
		group = r.URL.Path
	}
	group = strings.ToLower(group)
	before := l.settings(group)
	rec := &statusWriter{ResponseWriter: w}
	l.next.ServeHTTP(rec, r)
	after := l.settings(group)
	l.mu.Lock()
	l.byGroup[group] = append(l.byGroup[group], Write{Epoch: l.epoch.Load(), Status: rec.status, Changed: !maps.Equal(before, after)})
	l.mu.Unlock()
}

// SetEpoch marks the writes from now on as sent by run n.
func (l *WriteLog) SetEpoch(n int64) { l.epoch.Store(n) }

func (l *WriteLog) settings(group string) map[string]string {
	tr, err := l.sim.Truth(group)
	if err != nil || len(tr.Groups) == 0 {
		return nil
	}
	return maps.Clone(tr.Groups[0].Settings)
}

// Writes returns a copy of the writes so far, per group (lower-case email).
func (l *WriteLog) Writes() map[string][]Write {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]Write, len(l.byGroup))
	for g, ws := range l.byGroup {
		out[g] = append([]Write(nil), ws...)
	}
	return out
}

// statusWriter keeps the status sent; 0 when nothing was (an answer cut off).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}
