package fanout_test

import (
	"context"
	"testing"

	"github.com/greephq/greep/pkg/fanout"
)

// Drain stops at its bound, leaves the rest for the next call, and reports a failure
// without moving the cursor past what was accepted.
func TestDrainIsBoundedAndResumesFromTheCursor(t *testing.T) {
	s := newStore(t)
	head := scenario(t, s, 4) // 3 groups created + 12 member changes
	topic := &memTopic{fails: 1}
	p := fanout.New(s, topic, fanout.Options{Batch: 5})
	ctx := context.Background()
	if _, err := p.Drain(ctx, 10); err == nil {
		t.Fatal("a failed publish was not reported")
	}
	if c, _ := p.Published(ctx); c != 0 {
		t.Fatalf("cursor %d after a failed publish, want 0", c)
	}
	n, err := p.Drain(ctx, 10)
	if err != nil || n != 10 {
		t.Fatalf("Drain(10) = %d, %v; want 10 records", n, err)
	}
	if c, _ := p.Published(ctx); c != 10 {
		t.Fatalf("cursor %d after a bounded drain, want 10", c)
	}
	if n, err := p.Drain(ctx, 100); err != nil || uint64(n) != head-10 {
		t.Fatalf("second Drain = %d, %v; want the %d left", n, err, head-10)
	}
	if n, err := p.Drain(ctx, 100); err != nil || n != 0 {
		t.Fatalf("Drain of a caught-up feed = %d, %v", n, err)
	}
}
