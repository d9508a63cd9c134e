package datastore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// These run without the emulator.

func TestKeyLocksHoldOneWriterAKey(t *testing.T) {
	var (
		l            keyLocks
		wg           sync.WaitGroup
		inside, most atomic.Int64
	)
	for range 20 {
		wg.Go(func() {
			unlock, err := l.lock(context.Background(), "Finding/f1")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d writers held one key at once", most.Load())
	}
	if len(l.locks) != 0 {
		t.Errorf("%d keys left after every unlock", len(l.locks))
	}
}

func TestKeyLocksOtherKeysAndCancel(t *testing.T) {
	var l keyLocks
	unlock, err := l.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	// Another key is free while "a" is held.
	other, err := l.lock(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	other()
	// A writer waiting for "a" gives up when its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.lock(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting on a held key with an ended context: %v", err)
	}
	unlock()
	if len(l.locks) != 0 {
		t.Errorf("%d keys left", len(l.locks))
	}
	again, err := l.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	again()
}
