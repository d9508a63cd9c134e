package bolt

import (
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// commitQueue lets Commits that arrive while another is writing share the next write
// transaction (group commit): a batch of tasks dispatched together finishes together, and
// one transaction then writes the pages they share (the change feed's last page, the
// counters, the task records) once and syncs the file once. No Commit waits for company:
// the first to find the writer free writes whatever is queued, itself included.
type commitQueue struct {
	writer  sync.Mutex // held while a batch is written
	mu      sync.Mutex // guards pending
	pending []*pendingCommit
}

// maxBatch bounds one transaction's units, and so its size and the time it holds bbolt.
const maxBatch = 64

// pendingCommit is one Commit's unit of work and, once written, its result.
type pendingCommit struct {
	w       *greep.Writes
	members [][]greep.Member // w.Members' lists, normalized
	index   int              // its place in the CommitAll that made it
	// done and err are set by the batch's writer while it holds commitQueue.writer.
	done bool
	err  error
}

// do queues cs and returns once batches holding each of them have been written by
// commit, which sets each unit's err.
func (q *commitQueue) do(cs []*pendingCommit, commit func([]*pendingCommit)) {
	q.mu.Lock()
	q.pending = append(q.pending, cs...)
	q.mu.Unlock()
	q.writer.Lock()
	defer q.writer.Unlock()
	for _, c := range cs {
		for !c.done {
			q.mu.Lock()
			n := min(len(q.pending), maxBatch)
			batch := q.pending[:n:n]
			q.pending = q.pending[n:]
			q.mu.Unlock()
			write(batch, commit)
		}
	}
}

// write runs commit on batch and marks its units done, even if commit panics (each unit
// then fails, as a panicking transaction does in update): a unit left not done, and no
// longer queued, would wait for ever.
func write(batch []*pendingCommit, commit func([]*pendingCommit)) {
	defer func() {
		r := recover()
		for _, b := range batch {
			if r != nil {
				b.err = greep.Errorf(greep.EINTERNAL, "embedded store: committing: %v", r)
			}
			b.done = true
		}
	}()
	commit(batch)
}
