package queue

import (
	"context"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// Batch is the unit of work of one task run: the store writes a handler leaves to the
// queue layer, which commits them in one transaction with the task's completion and the
// tasks it enqueued (the local dispatcher does; see docs/architecture.md). A handler that
// finds no Batch in its context, or a closed one, writes directly.
//
// The writes are committed only if the run succeeds: a failed run's are dropped with it,
// and its retry writes them again. Code that must see the committed writes (a count it
// compares with a total, say) runs in AfterCommit.
type Batch struct {
	mu     sync.Mutex
	writes greep.Writes
	after  []func(context.Context)
	closed bool
}

type batchKey struct{}

// WithBatch gives the task run of ctx the batch b.
func WithBatch(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, batchKey{}, b)
}

// BatchFrom returns the batch of the task run ctx belongs to, or nil.
func BatchFrom(ctx context.Context) *Batch {
	b, _ := ctx.Value(batchKey{}).(*Batch)
	return b
}

// Add lets fn add writes to the batch and reports true, or reports false (without
// calling fn) when there is no open batch: the caller then writes directly.
func (b *Batch) Add(fn func(w *greep.Writes)) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	fn(&b.writes)
	return true
}

// AfterCommit has fn run once the batch is committed (with a context that is still the
// task run's), and reports true; false when there is no open batch.
func (b *Batch) AfterCommit(fn func(ctx context.Context)) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.after = append(b.after, fn)
	return true
}

// Close ends the batch: later Adds write directly. It returns the writes and the
// functions to run after they are committed.
func (b *Batch) Close() (*greep.Writes, []func(context.Context)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	w := b.writes
	return &w, b.after
}
