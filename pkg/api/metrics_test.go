package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/auth"
)

// /metrics is the same registry production scrapes: behind the API's authentication and
// the status scope.
func TestMetricsNeedCredentialsAndTheStatusScope(t *testing.T) {
	s := newTestServer(t, fixture(), principals{
		"ops":   auth.NewPrincipal("ops", []string{auth.ScopeStatus}, nil),
		"slack": auth.NewPrincipal("slack", []string{auth.ScopeGroups}, nil),
	})
	s.metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte("greep_up 1\n"))
	})
	s.router = s.routes()

	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}} {
		do(t, s.router, "GET", "/metrics", hdr...).googleError(t, 401, "authError")
	}
	do(t, s.router, "GET", "/metrics", "Authorization", "Bearer slack").googleError(t, 403, "forbidden")
	a := do(t, s.router, "GET", "/metrics", "Authorization", "Bearer ops")
	if a.code != 200 || !strings.Contains(string(a.body), "greep_up 1") {
		t.Errorf("ops scraping /metrics: %d %s", a.code, a.body)
	}
	do(t, s.router, "POST", "/metrics", "Authorization", "Bearer ops").googleError(t, 405, "methodNotAllowed")
}
