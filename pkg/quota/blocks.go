package quota

import "sync"

// Reservations are taken from the store in blocks: one durable count reserves a lane's
// next calls, which are then handed out from memory. Every call is still counted in the
// store before it is made; what a crash loses is the block's unused part, counted but
// never spent, which only under-spends the day. Without blocks the count was a store
// write per call, half of a sync task's write transactions.
const (
	// maxBlock bounds the calls a lane holds ahead in one instance, so what a crash
	// or a day's end leaves unspent.
	maxBlock = 32
	// headroomShare makes a block at most this fraction of what is left under the lane's
	// cap: near a limit blocks shrink to one call, and the guard is exact where it matters.
	headroomShare = 64
)

// blockSize is how many calls to reserve at once with headroom left under the cap.
func blockSize(headroom int64) int64 {
	return min(max(headroom/headroomShare, 1), maxBlock)
}

type laneKey struct{ api, lane string }

// held is a lane's reservations counted under counter but not yet used. A block
// counted under a past day's counter is never used.
type held struct {
	counter string
	n       int64
}

// holdings is what the guard holds ahead, by API and lane. Only memory is touched under
// its lock; refills happen outside it.
type holdings struct {
	mu sync.Mutex
	m  map[laneKey]held
}

// take uses one held reservation of the lane under counter, if there is one.
func (h *holdings) take(k laneKey, counter string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.m[k]
	if c.counter != counter || c.n == 0 {
		return false
	}
	c.n--
	h.m[k] = c
	return true
}

// add keeps n more reservations of the lane under counter (a new day's replace the last).
func (h *holdings) add(k laneKey, counter string, n int64) {
	if n <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[laneKey]held{}
	}
	c := h.m[k]
	if c.counter != counter {
		c = held{counter: counter}
	}
	c.n += n
	h.m[k] = c
}

// unused is how many reservations under counter this guard holds, every lane together.
func (h *holdings) unused(counter string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var n int64
	for _, c := range h.m {
		if c.counter == counter {
			n += c.n
		}
	}
	return n
}

// drain takes every held reservation away, by counter.
func (h *holdings) drain() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int64{}
	for k, c := range h.m {
		if c.n > 0 {
			out[c.counter] += c.n
		}
		delete(h.m, k)
	}
	return out
}
