package workspacesim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The origin tenant: 5,000 users, 45,000 groups, about 373,000 memberships.
var origin = workspacesim.Config{Users: 5000, Groups: 45000, Seed: 1, QuotaPerMinute: -1}

// BenchmarkGenerateOrigin measures generating the origin tenant and the heap it keeps.
//
//	go test -run '^$' -bench GenerateOrigin -benchtime 3x ./pkg/workspacesim/
func BenchmarkGenerateOrigin(b *testing.B) {
	var heapMB float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sim, err := workspacesim.New(origin)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heapMB = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(sim)
		sim.Close()
		b.StartTimer()
	}
	b.ReportMetric(heapMB, "heapMB")
}

// BenchmarkServeOrigin measures the calls per second the simulator answers for the origin
// tenant through the official Go client over loopback HTTP (members.list of a group
// after another, the call a full sync makes most).
//
//	go test -run '^$' -bench ServeOrigin -benchtime 20000x ./pkg/workspacesim/
func BenchmarkServeOrigin(b *testing.B) {
	sim, err := workspacesim.New(origin)
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	truth, _ := sim.Truth("")
	emails := make([]string, len(truth.Groups))
	for i, g := range truth.Groups {
		emails[i] = g.Email
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost = 64
	cl, err := workspace.New(context.Background(), workspace.Config{Endpoint: srv.URL, AdminSubject: sim.Admin()})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g := emails[int(next.Add(1))%len(emails)]
			if _, err := cl.Directory.Members.List(g).Do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkHandlerGroupsList measures the handler alone (no network): a groups.list page
// deep into the origin tenant, which must cost O(page), not O(tenant).
//
//	go test -run '^$' -bench HandlerGroupsList ./pkg/workspacesim/
func BenchmarkHandlerGroupsList(b *testing.B) {
	sim, err := workspacesim.New(origin)
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	req := httptest.NewRequest("GET", "/admin/directory/v1/groups?customer=my_customer&maxResults=200", nil)
	req.Header.Set("Authorization", "Bearer "+sim.Admin())
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	for b.Loop() {
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Body.String())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
