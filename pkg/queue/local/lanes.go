package local

import (
	"math"

	"golang.org/x/time/rate"

	"github.com/greephq/greep/pkg/queueconfig"
)

// laneBuckets gives each lane the token buckets its dispatches take from, so that lanes
// are work-conserving: a background lane (a sweep) uses whatever part of its API's
// usable rate push work leaves, and push work is never held back by it.
//
//   - Every short window (queueconfig's pool: an API, with the APIs counted in its
//     window) has one bucket at its whole usable rate, which every lane spending it takes
//     from: together they never exceed the quota.
//   - A push lane first takes from a bucket of its own at its share, then from the pool.
//   - A background lane takes from the pool only: its share is a floor, not a cap.
//
// Why push still goes first without a priority queue: a push lane reserves one token at a
// time (runLane holds one task while it waits) and a background lane reserves none while
// it waits for its batch (waitBucket), so a push task's reservation on the pool waits
// behind at most one reservation of each other push lane, tens of milliseconds at the
// Directory API's 36/s. And since push lanes are capped at their shares, a sweep always
// keeps the rest of the window however much push work there is.
//
// A lane without an API has its fixed rate only.
func laneBuckets(cfg *queueconfig.Config) map[string][]*rate.Limiter {
	pools := map[string]*rate.Limiter{}
	out := make(map[string][]*rate.Limiter, len(cfg.Lanes))
	for _, name := range cfg.LaneNames() {
		l := cfg.Lanes[name]
		var own []*rate.Limiter
		if !l.Background || l.Pool() == "" {
			own = append(own, bucket(l.RatePerSecond()))
		}
		if p := l.Pool(); p != "" {
			if pools[p] == nil {
				pools[p] = bucket(l.PoolPerSecond())
			}
			own = append(own, pools[p])
		}
		out[name] = own
	}
	return out
}

// bucket is a token bucket at r a second with a small burst, a fifth of a second of
// tasks: half of it is the batch a background lane waits for (batch, local.go), the other
// half absorbs the scheduling lateness of a busy process so that a late wake-up loses no
// tokens. A minute's window is never at risk from it: the headroom alone is six seconds
// of tasks.
func bucket(r float64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r/5))))
}

// Batch is how many tasks a background lane at r a second dispatches on one wake-up: half
// its bucket. The bench's paced floor paces itself the same way.
func Batch(r float64) int {
	return max(1, bucket(r).Burst()/2)
}
