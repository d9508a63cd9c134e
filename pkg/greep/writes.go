package greep

import (
	"context"
	"time"
)

// WriteStats is what a store has written since it was opened: its write transactions
// (bbolt Update calls, Datastore commits), and what they wrote in the store's own unit:
// Datastore's billed entity writes (mutations), bbolt's pages written to the file.
type WriteStats struct {
	Transactions int64 `json:"transactions"`
	EntityWrites int64 `json:"entityWrites,omitempty"`
	PageWrites   int64 `json:"pageWrites,omitempty"`
}

// Writes is a unit of work: what one task run writes, committed in one transaction by
// Committer.Commit together with the queue's own records of the run (the task's
// completion, the tasks it enqueued), so a task costs one store write, not one per
// method call. The store applies them in field order.
type Writes struct {
	// Members replace member snapshots, as GroupStore.ReplaceMembers does.
	Members []MembersWrite
	// Marks are idempotency markers with the counts they guard.
	Marks []Mark
	// Counts add to counters, as StateStore.AddCount does.
	Counts []Count
	// Puts and Deletes write and remove records, as RecordStore does.
	Puts    []Record
	Deletes []RecordKey
}

// MembersWrite is one ReplaceMembers. Cause labels its change records (a commit runs
// outside the context of the handler that decided the write).
type MembersWrite struct {
	GroupID  string
	Members  []Member
	ETag     string
	SyncedAt time.Time
	Cause    ChangeCause
}

// Mark creates the record Kind/ID and, only when it did not exist, adds Delta to the
// counter Counter (none when empty): a task run twice counts once.
type Mark struct {
	Kind, ID string
	Data     []byte
	Counter  string
	Delta    int64
}

// Count adds Delta to the counter Name.
type Count struct {
	Name  string
	Delta int64
}

// Record is a record to put.
type Record struct {
	Kind, ID string
	Data     []byte
}

// RecordKey names a record to delete (a missing one is not an error).
type RecordKey struct{ Kind, ID string }

// Empty reports whether w writes nothing.
func (w *Writes) Empty() bool {
	return w == nil || len(w.Members)+len(w.Marks)+len(w.Counts)+len(w.Puts)+len(w.Deletes) == 0
}

// Committer commits a unit of work in one transaction: all of it or, on error, none.
type Committer interface {
	Commit(ctx context.Context, w *Writes) error
}

// BatchCommitter is a Committer that can commit several units in one transaction (the
// embedded store): each still lands whole or not at all, and errs[i] is ws[i]'s.
type BatchCommitter interface {
	CommitAll(ctx context.Context, ws []*Writes) (errs []error)
}

// CommitAll commits ws through c: in one transaction when c is a BatchCommitter, else
// one Commit each.
func CommitAll(ctx context.Context, c Committer, ws []*Writes) []error {
	if b, ok := c.(BatchCommitter); ok {
		return b.CommitAll(ctx, ws)
	}
	errs := make([]error, len(ws))
	for i, w := range ws {
		errs[i] = c.Commit(ctx, w)
	}
	return errs
}
