package cache

import (
	"sync/atomic"

	"github.com/greephq/greep/pkg/greep"
)

// WriteCounter counts a store's write transactions and entity writes, so the bench can
// say what each Google API call costs the store. The stores count a write when they send
// it: a Datastore transaction that is retried counts every attempt, each being a round
// trip.
type WriteCounter struct {
	tx, entities atomic.Int64
}

// Tx counts one write transaction (a bbolt Update, a Datastore commit) of n entity
// writes (a key put or deleted, a Datastore mutation).
func (c *WriteCounter) Tx(n int) {
	c.tx.Add(1)
	c.entities.Add(int64(n))
}

// Entities counts n entity writes of a transaction counted already.
func (c *WriteCounter) Entities(n int) { c.entities.Add(int64(n)) }

// Stats returns the counts so far.
func (c *WriteCounter) Stats() greep.WriteStats {
	return greep.WriteStats{Transactions: c.tx.Load(), EntityWrites: c.entities.Load()}
}

// CheckWrites applies to a unit of work the checks each store method applies to its
// arguments, so Commit accepts and refuses what the methods do, with the same codes.
func CheckWrites(w *greep.Writes) error {
	for _, m := range w.Members {
		if err := CheckKey("group id", m.GroupID); err != nil {
			return err
		}
	}
	for _, m := range w.Marks {
		if err := CheckRecord(m.Kind, m.ID, m.Data); err != nil {
			return err
		}
		if m.Counter != "" {
			if err := CheckKey("counter name", m.Counter); err != nil {
				return err
			}
		}
	}
	for _, c := range w.Counts {
		if err := CheckKey("counter name", c.Name); err != nil {
			return err
		}
	}
	for _, r := range w.Puts {
		if err := CheckRecord(r.Kind, r.ID, r.Data); err != nil {
			return err
		}
	}
	for _, r := range w.Deletes {
		if err := CheckRecord(r.Kind, r.ID, nil); err != nil {
			return err
		}
	}
	return nil
}

// CheckRecord applies the RecordStore methods' checks.
func CheckRecord(kind, id string, data []byte) error {
	if err := CheckKey("record kind", kind); err != nil {
		return err
	}
	if err := CheckKey("record id", id); err != nil {
		return err
	}
	return CheckSize("record "+kind+"/"+id, len(data))
}
