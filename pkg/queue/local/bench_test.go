package local_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
)

// BenchmarkRateHeld runs b.N tasks through a 200/s lane on the wall clock and reports the
// rate the dispatcher achieved between the first and the last dispatch, and that rate as
// a fraction of the configured one (1.00 is pacing exactly at the rate; above 1 would
// overrun a quota).
//
//	go test -run ^$ -bench RateHeld -benchtime 2000x ./pkg/queue/local
func BenchmarkRateHeld(b *testing.B) {
	const ratePerSecond = 200
	cfg, err := queueconfig.Parse("bench.yaml", []byte(fmt.Sprintf(`apis:
  directory:
    shortWindow: {limit: 600, per: 1m}
    perDay: 1000
queues:
  work:
    ratePerSecond: %d
    service: remediation
    pathPrefix: /tasks/remediation/
    concurrency: 20
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 3}
`, ratePerSecond)))
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	times := make([]time.Time, 0, b.N)
	done := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if times = append(times, now); len(times) == b.N {
			close(done)
		}
	})
	d, err := local.Open(context.Background(), memory.New(), cfg, local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		if err := d.Enqueue(context.Background(), queue.Task{Queue: "work", Path: fmt.Sprintf("/tasks/remediation/%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	if err := d.Start(h); err != nil {
		b.Fatal(err)
	}
	<-done
	b.StopTimer()
	if err := d.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	slices.SortFunc(times, time.Time.Compare)
	// The bucket starts full (a burst of rate/10); the steady pace is measured after it.
	burst := ratePerSecond / 10
	if b.N > 2*burst {
		steady := float64(b.N-1-burst) / times[b.N-1].Sub(times[burst]).Seconds()
		b.ReportMetric(steady, "tasks/s")
		b.ReportMetric(steady/ratePerSecond, "of-rate")
	}
	// The most tasks any one second saw: at most rate + burst, or a quota window would see
	// more than the rate allows.
	peak, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	b.ReportMetric(float64(peak), "max-per-1s")
}
