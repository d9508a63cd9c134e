package local

import (
	"os"
	"runtime/debug"
	"sync"
)

// The garbage collector's settings for the process. At Go's default (GOGC=100) the
// collector cost Greep about a third of its CPU during a sync: a sweep allocates for
// every call (the page's decoding, bbolt's copies of the pages it rewrites, the change
// records) while the cache it keeps is small, so the heap doubled, and was collected,
// over and over in a sync. Letting it grow to five times the live heap before
// collecting took 0.57-0.69 ms of CPU a Directory call down to 0.37-0.42 ms
// (docs/benchmarks.md, "The garbage collector"), and the memory limit holds that growth
// under a bound the operator sets: near the limit, the collector runs as often as it
// must to stay under it, as if GOGC were lower.
const (
	defaultGCPercent      = 400
	defaultMemoryLimitMiB = 1024
)

// gcTuning applies the settings of the first App started in the process and restores
// Go's own when the last one closes, so that Apps started side by side (tests, the
// bench) share one setting and leave the process as they found it. GOGC and GOMEMLIMIT
// in the environment win: an operator who set them meant them.
var gcTuning struct {
	mu                   sync.Mutex
	apps                 int
	setPercent, setLimit bool
	oldPercent           int
	oldLimit             int64
}

// TuneGC applies cfg's settings (or counts one more user of them) and returns what
// undoes it. Apps call it when they start; the bench calls it around the floor it judges
// Greep's CPU against, so that both run under the same collector.
func TuneGC(cfg Config) (restore func()) {
	g := &gcTuning
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.apps == 0 {
		g.setPercent = os.Getenv("GOGC") == "" && cfg.GCPercent > 0
		g.setLimit = os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimitMiB > 0
		if g.setPercent {
			g.oldPercent = debug.SetGCPercent(cfg.GCPercent)
		}
		if g.setLimit {
			g.oldLimit = debug.SetMemoryLimit(cfg.MemoryLimitMiB << 20)
		}
	}
	g.apps++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.apps--; g.apps > 0 {
				return
			}
			if g.setPercent {
				debug.SetGCPercent(g.oldPercent)
			}
			if g.setLimit {
				debug.SetMemoryLimit(g.oldLimit)
			}
		})
	}
}
