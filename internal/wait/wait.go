// Package wait is how tests wait: they poll for the condition they need, with a deadline
// generous enough for a loaded 2-core CI machine, and never sleep for a duration and hope.
// One helper keeps the poll interval and the failure message the same everywhere.
package wait

import (
	"errors"
	"testing"
	"time"
)

// Until calls check until it returns nil, and fails t with check's last error once limit
// has passed. check's error says what is still missing, so a timeout reads as a diff.
func Until(t testing.TB, limit time.Duration, check func() error) {
	t.Helper()
	if err := Poll(limit, check); err != nil {
		t.Fatalf("not within %s: %v", limit, err)
	}
}

// For waits until cond holds, and fails t naming what after limit.
func For(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	Until(t, limit, func() error {
		if cond() {
			return nil
		}
		return errors.New(what)
	})
}

// Poll calls check until it returns nil or limit has passed, and returns check's last
// error: for callers that report the failure themselves (a helper goroutine, a bench).
// The interval starts at a millisecond, so a fast condition costs little latency, and
// grows to 50 ms, so a slow one costs little CPU on a shared machine.
func Poll(limit time.Duration, check func() error) error {
	deadline := time.Now().Add(limit)
	interval := time.Millisecond
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
		interval = min(2*interval, 50*time.Millisecond)
	}
}
