package workspacesim

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// The control API answers errors in Google's JSON shape too, so one client error path
// reads both.

func (s *Sim) controlStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Sim) controlTruth(w http.ResponseWriter, r *http.Request) {
	t, err := s.Truth(r.URL.Query().Get("group"))
	if errors.Is(err, ErrNoGroup) {
		writeError(w, notFound("%v", err))
		return
	}
	writeTruth(w, t)
}

// writeTruth streams the truth group by group: the whole-tenant answer of the origin
// tenant is about 100 MB of JSON, which must not sit in memory twice.
func writeTruth(w http.ResponseWriter, t Truth) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	bw.WriteString(`{"groups":[`)
	for i, g := range t.Groups {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(g); err != nil {
			return // the client went away
		}
	}
	bw.WriteString(`]`)
	if t.Users != nil {
		bw.WriteString(`,"users":`)
		if err := enc.Encode(t.Users); err != nil {
			return
		}
	}
	bw.WriteString("}\n")
	bw.Flush()
}

func (s *Sim) controlMutations(w http.ResponseWriter, r *http.Request) {
	var muts []Mutation
	if err := decodeJSON(r.Body, &muts); err != nil {
		err.Message += " (want a JSON array of mutations)"
		writeError(w, err)
		return
	}
	if err := s.Apply(muts); err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied": len(muts), "now": s.Now()})
}

func (s *Sim) controlClock(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var req struct {
			Advance string `json:"advance"`
		}
		if err := decodeJSON(r.Body, &req); err != nil {
			writeError(w, err)
			return
		}
		d, err := time.ParseDuration(req.Advance)
		if err != nil || d <= 0 {
			writeError(w, badRequest("advance must be a positive Go duration such as \"24h\" or \"90m\", not %q", req.Advance))
			return
		}
		s.Advance(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"now": s.Now()})
}

func (s *Sim) controlFaults(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Faults
		SlowDelay string `json:"slowDelay"`
	}
	if err := decodeJSON(r.Body, &req); err != nil {
		writeError(w, err)
		return
	}
	f := req.Faults
	if req.SlowDelay != "" {
		d, err := time.ParseDuration(req.SlowDelay)
		if err != nil {
			writeError(w, badRequest("slowDelay must be a Go duration such as \"2s\", not %q", req.SlowDelay))
			return
		}
		f.SlowDelay = d
	}
	if err := s.SetFaults(f); err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rateLimited": f.RateLimited, "internalError": f.InternalError,
		"unavailable": f.Unavailable, "slow": f.Slow, "slowDelay": f.SlowDelay.String()})
}
