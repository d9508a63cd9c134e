package local

import (
	"sort"
	"sync"
	"time"
)

// Clock is the dispatcher's time: schedule times, token buckets, backoffs and name
// tombstones all follow it, so a test can drive it by hand and `greep local --time-scale`
// can run it as fast as the simulator's.
type Clock interface {
	Now() time.Time
	// After fires once d has passed, or earlier: the dispatcher re-reads Now after
	// every wake and waits again if it is not yet time. What the channel carries is not
	// the time: read Now.
	After(d time.Duration) <-chan time.Time
	// At fires once the clock reaches t, or earlier, like After. A wait for a moment
	// read off the clock must use At: After(t.Sub(Now())) measures from a Now that may
	// already be stale, and on a clock moved by hand the timer would then fire late.
	At(t time.Time) <-chan time.Time
}

// WallClock is the real time.
var WallClock Clock = wallClock{}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (wallClock) At(t time.Time) <-chan time.Time        { return time.After(time.Until(t)) }

// FakeClock is a Clock that moves only when told to, for tests.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock returns a clock standing at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now implements Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After implements Clock: the channel fires once the clock is advanced to now+d.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// At implements Clock: the channel fires once the clock is advanced to t, at once if it
// is there already. Checking and registering under one lock is what makes it safe
// against an Advance made meanwhile.
func (c *FakeClock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: t, ch: ch})
	return ch
}

// Advance moves the clock by d and fires every timer that became due, earliest first.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// Next returns the time of the earliest pending timer, if any.
func (c *FakeClock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) == 0 {
		return time.Time{}, false
	}
	min := c.waiters[0].at
	for _, w := range c.waiters[1:] {
		if w.at.Before(min) {
			min = w.at
		}
	}
	return min, true
}
