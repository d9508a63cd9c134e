package datastore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// BenchmarkConcurrentSwaps swaps the member lists of distinct groups from many writers at
// once, as a sweep's concurrent tasks do; every swap has change records to write. It
// shows how the change feed's numbering holds up under concurrent writers: on the
// Firestore emulator in Datastore mode, which locks as production does,
//
//	GREEP_EMULATOR=firestore ./scripts/with-datastore-emulator.sh \
//	  go test -run '^$' -bench ConcurrentSwaps -benchtime 400x ./pkg/cache/datastore
//
// A swap is three commits (the new version's chunks, the swap, the old version's
// delete); transactions/swap above 3 are attempts retried after a conflict, and
// log-writes/swap is how often the sequencer wrote the change log's head.
func BenchmarkConcurrentSwaps(b *testing.B) {
	s := newStore(b)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	const writers = 16
	groups := make([]greep.Group, writers)
	for i := range groups {
		groups[i] = greep.Group{ID: fmt.Sprintf("g%02d", i), Email: fmt.Sprintf("g%02d@example.com", i)}
	}
	if err := s.PutGroups(ctx, groups); err != nil {
		b.Fatal(err)
	}
	before, rounds := s.WriteStats(), s.seq.rounds.Load()
	jobs := make(chan int)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				// Each swap adds one member: one change record.
				ms := []greep.Member{{ID: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("u%d@example.com", i), Type: "USER", Role: "MEMBER"}}
				if err := s.ReplaceMembers(ctx, groups[w].ID, ms, "", time.Now()); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					b.Log(err)
				}
			}
		}()
	}
	for i := range b.N {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	after := s.WriteStats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "swaps/s")
	b.ReportMetric(float64(after.Transactions-before.Transactions)/float64(b.N), "transactions/swap")
	b.ReportMetric(float64(s.seq.rounds.Load()-rounds)/float64(b.N), "log-writes/swap")
	b.ReportMetric(float64(failed), "failed")
}

// BenchmarkConcurrentCounts adds to one counter from many writers at once, as a sweep's
// concurrent tasks count the groups done; run it on the Firestore emulator as
// BenchmarkConcurrentSwaps is.
func BenchmarkConcurrentCounts(b *testing.B) {
	s := newStore(b)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	const writers = 16
	before := s.WriteStats()
	jobs := make(chan int)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for range jobs {
				if _, err := s.AddCount(ctx, "sweep/1/done", 1); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
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
	after := s.WriteStats()
	if n, err := s.Count(ctx, "sweep/1/done"); err != nil || n != int64(b.N-failed) {
		b.Errorf("count %d (%v), want %d", n, err, b.N-failed)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "adds/s")
	b.ReportMetric(float64(after.Transactions-before.Transactions)/float64(b.N), "transactions/add")
	b.ReportMetric(float64(failed), "failed")
}
