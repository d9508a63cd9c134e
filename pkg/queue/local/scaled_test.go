package local_test

import (
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/queue/local"
)

// handClock is a time that moves only when told, as a simulator's clock between its
// Advances would if its scale were tiny.
type handClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) move(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func fired(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A scaled clock's timer fires when the scaled time reaches it, in wall time divided by
// the scale.
func TestScaledClockFiresAtItsTime(t *testing.T) {
	start := time.Now()
	sim := func() time.Time { return t0.Add(time.Duration(float64(time.Since(start)) * 1000)) }
	clk := local.ScaledClock(sim, 1000)
	at := clk.Now().Add(2 * time.Second) // 2 ms of wall time
	select {
	case <-clk.At(at):
	case <-time.After(waitLimit):
		t.Fatal("a 2 ms timer never fired")
	}
	if now := clk.Now(); now.Before(at) {
		t.Errorf("fired at %s, before %s", now, at)
	}
	if !fired(clk.After(-time.Second)) || !fired(clk.At(at)) {
		t.Error("a timer for a time passed is not fired at once")
	}
	waitFor(t, "no timer pending", func() bool { return clk.Pending() == 0 })
}

// A clock moved by hand (Moved) fires the timers it reached at once and keeps the
// others; waits for one instant share one timer.
func TestScaledClockMovedByHand(t *testing.T) {
	hand := &handClock{now: t0}
	clk := local.ScaledClock(hand.Now, 1) // an hour's timer waits an hour of wall time
	hour, twin, day := clk.At(t0.Add(time.Hour)), clk.After(time.Hour), clk.At(t0.Add(24*time.Hour))
	if n := clk.Pending(); n != 2 {
		t.Errorf("%d instants pending, want 2 (the hour's two waits share one)", n)
	}
	hand.move(time.Hour)
	clk.Moved()
	if !fired(hour) || !fired(twin) {
		t.Fatal("the hour's timers did not fire when the clock was moved past them")
	}
	if fired(day) {
		t.Fatal("the day's timer fired an hour in")
	}
	if n := clk.Pending(); n != 1 {
		t.Errorf("%d instants pending, want the day's", n)
	}
	hand.move(23 * time.Hour)
	clk.Moved()
	if !fired(day) {
		t.Fatal("the day's timer did not fire")
	}
}
