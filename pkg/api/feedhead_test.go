package api

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// fakeFeed is a feed whose head and signal the test sets: a write by another process
// moves the head without closing the signal.
type fakeFeed struct {
	head   uint64
	reads  int
	signal chan struct{}
}

func (f *fakeFeed) Changes(context.Context, greep.ChangeQuery) ([]greep.Change, uint64, error) {
	return nil, f.head, nil
}

func (f *fakeFeed) ChangeLog(context.Context) (greep.ChangeLog, error) {
	f.reads++
	return greep.ChangeLog{Head: f.head}, nil
}

func (f *fakeFeed) ChangeSignal() <-chan struct{} { return f.signal }

// The kept head follows this process's commits at once (their signal) and other
// writers' within the TTL.
func TestFeedHead(t *testing.T) {
	f := &fakeFeed{head: 1, signal: make(chan struct{})}
	now := t0
	h := &feedHead{feed: f, now: func() time.Time { return now }, ttl: time.Second}
	head := func() uint64 {
		t.Helper()
		l, err := h.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return l.Head
	}
	if head() != 1 || head() != 1 || f.reads != 1 {
		t.Fatalf("head %d after %d store reads, want 1 after 1", head(), f.reads)
	}
	// Another process commits: no signal; the kept head serves until the TTL.
	f.head = 2
	if got := head(); got != 1 {
		t.Errorf("within the TTL: head %d, want the kept 1", got)
	}
	now = now.Add(time.Second)
	if got := head(); got != 2 {
		t.Errorf("after the TTL: head %d, want 2", got)
	}
	// This process commits: the signal drops the kept head at once.
	f.head = 3
	close(f.signal)
	f.signal = make(chan struct{})
	if got := head(); got != 3 {
		t.Errorf("after a signalled commit: head %d, want 3", got)
	}
	if got := head(); got != 3 || f.reads != 3 {
		t.Errorf("head %d after %d store reads, want 3 after 3 (kept again)", got, f.reads)
	}
	off := &feedHead{feed: f, now: time.Now, ttl: -1}
	off.get(context.Background())
	off.get(context.Background())
	if f.reads != 5 {
		t.Errorf("with the TTL off: %d store reads, want every get to read", f.reads-3)
	}
}
