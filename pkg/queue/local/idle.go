package local

import (
	"context"
	"sync"
	"time"
)

// WaitIdle blocks until the dispatcher is idle: no task running and none due by its
// clock (a task waiting for its lane's rate counts as due when its token is), or until
// ctx ends. It returns when the earliest queued task falls due, zero if none is queued.
//
// It is for tests, as pkgsite's in-memory queue offers WaitForTesting: with a FakeClock,
// WaitIdle then Advance to the returned time steps through a schedule without guessing
// how long the dispatcher's goroutines take. A dispatcher that is not started is idle
// only while nothing is due.
func (d *Dispatcher) WaitIdle(ctx context.Context) (next time.Time, err error) {
	for {
		// Taken before the check, so a change made during it is not missed.
		changed := d.changed.wait()
		if next, idle := d.idle(); idle {
			return next, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// idle reports whether no task is running or due, and the earliest time one falls due.
func (d *Dispatcher) idle() (next time.Time, idle bool) {
	now := d.clock.Now()
	for _, l := range d.lanes {
		l.mu.Lock()
		held := l.held.Load()
		due := []time.Time{}
		if !l.tokenAt.IsZero() {
			held--
			due = append(due, l.tokenAt)
		}
		if l.ready.Len() > 0 {
			// The lane dispatches in order: a queued task goes no earlier than the
			// held task waiting for its token.
			due = append(due, later(l.ready[0].NextAt, l.tokenAt))
		}
		l.mu.Unlock()
		if held > 0 {
			return time.Time{}, false
		}
		for _, at := range due {
			if !at.After(now) {
				return time.Time{}, false
			}
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	return next, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// signal is a broadcast to any number of waiters, made again after each one.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next broadcast.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
