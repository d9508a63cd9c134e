package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net/http"

	"go.uber.org/zap"
)

//go:embed static/dashboard.js
var dashboardJS []byte

// liveView is GET /dashboard/live's answer: the dashboard's main part rendered by the
// same template as the page, which the page's script swaps in every few seconds.
type liveView struct {
	Now  string `json:"now"`
	Main string `json:"main"`
}

// GET /dashboard/live (status.read, like the page; it takes the page's query).
func (s *server) dashboardLive(w http.ResponseWriter, r *http.Request) {
	v := s.dashboardView(r)
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "dashboard-main", v); err != nil {
		s.log.Error("rendering the live dashboard", zap.Error(err))
		writeGoogleError(w, http.StatusInternalServerError, "backendError", "internal error")
		return
	}
	body, err := json.Marshal(liveView{Now: v.Now, Main: buf.String()})
	if err != nil {
		writeGoogleError(w, http.StatusInternalServerError, "backendError", "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write(body)
}

// GET /dashboard.js: the page's only script, public (it holds nothing but the polling).
func dashboardScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.Write(dashboardJS)
}
