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
			own = append(own, bucket(l.RatePerSecond(), ownBurst))
		}
		if p := l.Pool(); p != "" {
			if pools[p] == nil {
				pools[p] = bucket(l.PoolPerSecond(), windowBurst)
			}
			own = append(own, pools[p])
		}
		out[name] = own
	}
	return out
}

// The bursts of the buckets: a bucket holds 1/n of a second of tasks (n divides the rate,
// where a float fraction such as 0.2 would round 35 × 0.2 up to 8).
const (
	// ownBurst is a lane's own bucket's, a fifth of a second: a push lane's cap at its
	// share, and the whole pacing of a lane that spends no API's window.
	ownBurst = 5
	// windowBurst is a window's bucket's, at its usable rate, one second. Half of it is
	// the batch a background lane waits for (batch, local.go): 18 at the Directory API's
	// 36/s, so a sweep wakes twice a second, and what waking costs (idle threads, timers,
	// a transaction that no other commit shares) is spread over 18 calls. The other half
	// absorbs the scheduling lateness of a busy process so that a late wake-up loses no
	// tokens. Push lanes never wait for it: they take one token at a time, capped by
	// their own buckets. Google's window is a minute, and the bucket adds at most one
	// second of calls to it, where queues.yaml's headroom of 0.1 keeps six seconds free.
	windowBurst = 1
)

// bucket is a token bucket at r a second holding 1/n of a second of tasks (at least one).
func bucket(r, n float64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r/n))))
}

// Batch is how many tasks a background lane dispatches on one wake-up when its window's
// usable rate is r a second: half the window's bucket. The bench's paced floor paces
// itself the same way.
func Batch(r float64) int {
	return max(1, bucket(r, windowBurst).Burst()/2)
}
