package datastore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// These show how the store holds up under concurrent writers. Run them on the Firestore
// emulator in Datastore mode, which locks as production's database does:
//
//	GREEP_EMULATOR=firestore ./scripts/with-datastore-emulator.sh \
//	  go test -run '^$' -bench Concurrent -benchtime 400x ./pkg/cache/datastore

// concurrentWriters is how many writers the benchmarks run at once: a sweep's tasks in
// flight on one instance.
const concurrentWriters = 16

// concurrently runs b.N calls of op spread over concurrentWriters writers (op gets its
// writer and the call's number) and reports the calls a second and how many failed.
func concurrently(b *testing.B, unit string, op func(writer, i int) error) {
	jobs := make(chan int)
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
	)
	b.ResetTimer()
	start := time.Now()
	for w := range concurrentWriters {
		wg.Go(func() {
			for i := range jobs {
				if err := op(w, i); err != nil {
					failed.Add(1)
					b.Log(err)
				}
			}
		})
	}
	for i := range b.N {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(failed.Load()), "failed")
}

// BenchmarkConcurrentSwaps swaps the member lists of distinct groups from many writers at
// once, as a sweep's concurrent tasks do; every swap has a change record to write. A
// swap is three commits (the new version's chunks, the swap, the old version's delete):
// transactions/swap above 3 are attempts retried after a conflict or the sequencer's
// rounds, and log-writes/swap is how often a round wrote the change log's head.
func BenchmarkConcurrentSwaps(b *testing.B) {
	s := newStore(b)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	groups := make([]greep.Group, concurrentWriters)
	for i := range groups {
		groups[i] = greep.Group{ID: fmt.Sprintf("g%02d", i), Email: fmt.Sprintf("g%02d@example.com", i)}
	}
	if err := s.PutGroups(ctx, groups); err != nil {
		b.Fatal(err)
	}
	before, rounds := s.WriteStats(), s.seq.rounds.Load()
	concurrently(b, "swaps", func(w, i int) error {
		// Each swap adds one member: one change record.
		ms := []greep.Member{{ID: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("u%d@example.com", i), Type: "USER", Role: "MEMBER"}}
		return s.ReplaceMembers(ctx, groups[w].ID, ms, "", time.Now())
	})
	if err := s.flush(ctx); err != nil { // the rounds still to come count too
		b.Fatal(err)
	}
	after := s.WriteStats()
	b.ReportMetric(float64(after.Transactions-before.Transactions)/float64(b.N), "transactions/swap")
	b.ReportMetric(float64(s.seq.rounds.Load()-rounds)/float64(b.N), "log-writes/swap")
}

// BenchmarkConcurrentCounts adds to one counter from many writers at once, as a sweep's
// concurrent tasks count the groups done.
func BenchmarkConcurrentCounts(b *testing.B) {
	s := newStore(b)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	before := s.WriteStats()
	var added atomic.Int64
	concurrently(b, "adds", func(int, int) error {
		_, err := s.AddCount(ctx, "sweep/1/done", 1)
		if err == nil {
			added.Add(1)
		}
		return err
	})
	after := s.WriteStats()
	if n, err := s.Count(ctx, "sweep/1/done"); err != nil || n != added.Load() {
		b.Errorf("count %d (%v), want %d", n, err, added.Load())
	}
	b.ReportMetric(float64(after.Transactions-before.Transactions)/float64(b.N), "transactions/add")
}
