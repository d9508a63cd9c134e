package local

import (
	"context"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// A background lane dispatches its tasks in batches (waitBucket), and the runs of a batch
// finish within a few milliseconds of each other. Committed as they finished, they shared
// a transaction only when one happened to arrive while another was writing: about 1.7
// runs a transaction in a full sync. The store's cost of a member run falls by about half
// from one run a transaction to eighteen (BenchmarkMemberRun in pkg/cache/bolt): the
// pages the runs share (the change feed's tail, the counters, the queue's records, the
// upper pages of every tree) are written once. So a background lane's finished run waits
// for the lane's other runs still in their handlers, and their units commit together.
//
// The wait is bounded: by gatherMax units, and by gatherLinger on the dispatcher's clock
// from the first unit gathered, after which a waiting run commits what is gathered
// without the rest; a stuck call holds the others back that long at most. Push lanes do
// not gather: a push task's writes go in as soon as it finishes.

// gatherMax bounds the units of one gathered commit.
const gatherMax = 64

// gatherLinger bounds how long a finished run waits for the lane's other runs.
const gatherLinger = 100 * time.Millisecond

// gather collects the units of a lane's runs that finish together.
type gather struct {
	clock     Clock
	committer greep.Committer

	mu      sync.Mutex
	running int // runs in their handler, not yet finished
	pending []*gathered
	// until is when the pending units stop waiting: gatherLinger after the first of
	// them. One instant for them all, so a scaled clock arms one timer a round.
	until time.Time
}

// gathered is one run's unit, waiting for its commit.
type gathered struct {
	w    *greep.Writes
	err  error
	done chan struct{} // closed once err is set
}

// newGather returns the gather of a lane committing through c.
func newGather(clock Clock, c greep.Committer) *gather {
	return &gather{clock: clock, committer: c}
}

// runner is one run's membership of a gather: start counts it in, and it leaves once,
// by commit or by leave. A nil runner (a lane that does not gather) commits alone.
type runner struct {
	g    *gather
	left bool
}

// start counts a run in its handler; nil-safe.
func (g *gather) start() *runner {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	g.running++
	g.mu.Unlock()
	return &runner{g: g}
}

// leave counts the run out without a unit (it failed, or commits nothing); if the
// others gathered were waiting for it alone, it commits them. Calling it again, or
// after commit, does nothing.
func (r *runner) leave(ctx context.Context) {
	if r == nil {
		return
	}
	g := r.g
	g.mu.Lock()
	if r.left {
		g.mu.Unlock()
		return
	}
	r.left = true
	g.running--
	var batch []*gathered
	if g.running == 0 {
		batch = g.take()
	}
	g.mu.Unlock()
	g.flush(ctx, batch)
}

// commit counts the run out with its unit w and returns w's commit's error, once the
// lane's runs still in their handler have finished, gatherMax units are gathered, or
// gatherLinger has passed.
func (r *runner) commit(ctx context.Context, c greep.Committer, w *greep.Writes) error {
	if r == nil {
		return c.Commit(ctx, w)
	}
	g := r.g
	u := &gathered{w: w, done: make(chan struct{})}
	g.mu.Lock()
	r.left = true
	g.running--
	if len(g.pending) == 0 {
		g.until = g.clock.Now().Add(gatherLinger)
	}
	g.pending = append(g.pending, u)
	if g.running > 0 && len(g.pending) < gatherMax {
		until := g.until
		g.mu.Unlock()
		select {
		case <-u.done:
			return u.err
		case <-g.clock.At(until):
		}
		g.mu.Lock()
	}
	batch := g.take()
	g.mu.Unlock()
	g.flush(ctx, batch)
	<-u.done // committed by this flush, or by another that took it first
	return u.err
}

// take empties pending; called with mu held.
func (g *gather) take() []*gathered {
	batch := g.pending
	g.pending = nil
	return batch
}

// flush commits batch and wakes its runs.
func (g *gather) flush(ctx context.Context, batch []*gathered) {
	if len(batch) == 0 {
		return
	}
	ws := make([]*greep.Writes, len(batch))
	for i, u := range batch {
		ws[i] = u.w
	}
	errs := greep.CommitAll(ctx, g.committer, ws)
	for i, u := range batch {
		u.err = errs[i]
		close(u.done)
	}
}
