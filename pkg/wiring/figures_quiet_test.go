package wiring

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/queueconfig"
)

// TestQuietMinuteGathersFiguresOnce: a request that finds the figures unmoved counts as
// the minute's look, so the requests after it do no more than read an atomic. Before, once
// a minute had passed with nothing new, every request took the metrics' lock and copied
// the notification times until a figure moved: on a read-only load, every read.
func TestQuietMinuteGathersFiguresOnce(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	qc, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rt := New(memory.New(), nil, qc, clock, nil)
	rt.Metrics.ObserveNotification("ch1", "accepted", "")
	h := rt.recordingFigures("default", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/v1/groups", nil)
	w := httptest.NewRecorder()

	h.ServeHTTP(w, req) // writes the figures
	mu.Lock()
	now = now.Add(figuresEvery + time.Second)
	mu.Unlock()
	h.ServeHTTP(w, req) // finds them unmoved
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("a request within the minute after a look that found nothing new allocates %.0f times, want 0 (it gathered the figures again)", n)
	}
}
