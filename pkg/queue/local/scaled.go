package local

import (
	"container/heap"
	"sync"
	"time"
)

// Scaled is a Clock that reads the time from now (a simulator's clock, which runs scale
// times faster than the wall clock) and waits d of that time in d/scale of wall time. With
// it the dispatcher keeps queues.yaml's rates in simulated seconds, unscaled.
//
// A timer wakes its waiter once, when its time comes, never to poll: an idle process
// stays asleep. A clock moved by hand (a simulated day's end) must say so through Moved,
// which fires the timers now due and re-arms the others.
//
// Waits for the same instant share one channel, closed when it fires, so a loop that
// waits again for an unchanged deadline after each wake (a lane woken by every enqueue)
// adds no timer.
type Scaled struct {
	now   func() time.Time
	scale float64

	mu     sync.Mutex
	timers map[int64]chan time.Time // by instant in Unix nanoseconds
	order  instants                 // the instants of timers, earliest first
	wake   *time.Timer
}

// ScaledClock returns the Clock of now running at scale (≤ 0: 1).
func ScaledClock(now func() time.Time, scale float64) *Scaled {
	if !(scale > 0) {
		scale = 1
	}
	return &Scaled{now: now, scale: scale, timers: map[int64]chan time.Time{}}
}

// Now implements Clock.
func (c *Scaled) Now() time.Time { return c.now() }

// After implements Clock.
func (c *Scaled) After(d time.Duration) <-chan time.Time { return c.At(c.now().Add(d)) }

// At implements Clock: the channel is closed once the clock reaches t.
func (c *Scaled) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := t.UnixNano()
	if ch, ok := c.timers[at]; ok {
		return ch
	}
	ch := make(chan time.Time)
	if !t.After(c.now()) {
		close(ch)
		return ch
	}
	c.timers[at] = ch
	heap.Push(&c.order, at)
	if c.order[0] == at {
		c.arm()
	}
	return ch
}

// Moved fires the timers the clock has reached and re-arms the wall timer for the others.
// Call it after moving the underlying clock by hand.
func (c *Scaled) Moved() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fire()
}

// Pending is how many instants are waited for: what an idle process keeps armed.
func (c *Scaled) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// fire closes the channels of every instant reached and arms the wall timer for the
// earliest left. Called with mu held.
func (c *Scaled) fire() {
	now := c.now().UnixNano()
	for len(c.order) > 0 && c.order[0] <= now {
		at := heap.Pop(&c.order).(int64)
		close(c.timers[at])
		delete(c.timers, at)
	}
	c.arm()
}

// arm sets the one wall timer to the earliest instant, in wall time from the clock's
// now. Called with mu held.
func (c *Scaled) arm() {
	if len(c.order) == 0 {
		if c.wake != nil {
			c.wake.Stop()
		}
		return
	}
	wall := time.Duration(float64(c.order[0]-c.now().UnixNano()) / c.scale)
	if c.wake == nil {
		c.wake = time.AfterFunc(wall, c.Moved)
		return
	}
	c.wake.Reset(wall)
}

// instants is a min-heap of Unix nanoseconds.
type instants []int64

func (h instants) Len() int           { return len(h) }
func (h instants) Less(i, j int) bool { return h[i] < h[j] }
func (h instants) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *instants) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *instants) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
