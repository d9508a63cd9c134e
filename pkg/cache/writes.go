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
