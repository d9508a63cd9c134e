package api

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/auth"
)

// net/http/pprof is served only when asked for, and then only to operators: 401 without
// credentials, 403 without the status scope, profiles with them; 404 when off.
func TestPprofBehindTheOperatorsCredentials(t *testing.T) {
	ps := principals{
		"ops":   auth.NewPrincipal("ops", []string{auth.ScopeStatus}, nil),
		"slack": auth.NewPrincipal("slack", []string{auth.ScopeGroups}, nil),
	}
	s := newTestServer(t, fixture(), ps)
	do(t, s.router, "GET", "/debug/pprof/", "Authorization", "Bearer ops").googleError(t, 404, "notFound")
	do(t, s.router, "GET", "/debug/pprof/heap", "Authorization", "Bearer ops").googleError(t, 404, "notFound")

	s.pprof = true
	s.router = s.routes()
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}} {
		do(t, s.router, "GET", "/debug/pprof/heap", hdr...).googleError(t, 401, "authError")
	}
	do(t, s.router, "GET", "/debug/pprof/heap", "Authorization", "Bearer slack").googleError(t, 403, "forbidden")

	idx := do(t, s.router, "GET", "/debug/pprof/", "Authorization", "Bearer ops")
	if idx.code != 200 || !strings.Contains(string(idx.body), "goroutine") {
		t.Errorf("index: %d %.200s", idx.code, idx.body)
	}
	// A heap profile is a gzipped protocol buffer.
	heap := do(t, s.router, "GET", "/debug/pprof/heap", "Authorization", "Bearer ops")
	if heap.code != 200 {
		t.Fatalf("heap profile: %d %.200s", heap.code, heap.body)
	}
	zr, err := gzip.NewReader(bytes.NewReader(heap.body))
	if err != nil {
		t.Fatalf("heap profile is not gzipped: %v", err)
	}
	if b, err := io.ReadAll(zr); err != nil || len(b) == 0 {
		t.Errorf("heap profile: %d bytes, %v", len(b), err)
	}
	cpu := do(t, s.router, "GET", "/debug/pprof/profile?seconds=1", "Authorization", "Bearer ops")
	if cpu.code != 200 || len(cpu.body) == 0 {
		t.Errorf("CPU profile: %d %.200s", cpu.code, cpu.body)
	}
	if a := do(t, s.router, "GET", "/debug/pprof/cmdline", "Authorization", "Bearer ops"); a.code != 404 {
		t.Errorf("cmdline (may carry a token): %d, want 404", a.code)
	}
}
