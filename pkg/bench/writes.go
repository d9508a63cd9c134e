package bench

import "github.com/greephq/greep/pkg/greep"

// writeCounted is a store that counts its writes (both of greep's stores do).
type writeCounted interface {
	WriteStats() greep.WriteStats
}

// storeWrites returns what s has written so far (zero when it does not count).
func storeWrites(s greep.Store) greep.WriteStats {
	if w, ok := s.(writeCounted); ok {
		return w.WriteStats()
	}
	return greep.WriteStats{}
}

// perCall adds the store's writes between before and after, per Google API call, to the
// figures: storeTxPerCall (write transactions), entityWritesPerCall (Datastore's billed
// mutations) and pageWritesPerCall (bbolt's pages written).
func perCall(figures map[string]any, before, after greep.WriteStats, calls int64) {
	if calls <= 0 {
		return
	}
	per := func(a, b int64) float64 { return float64(b-a) / float64(calls) }
	figures["storeTxPerCall"] = per(before.Transactions, after.Transactions)
	if after.EntityWrites > 0 {
		figures["entityWritesPerCall"] = per(before.EntityWrites, after.EntityWrites)
	}
	if after.PageWrites > 0 {
		figures["pageWritesPerCall"] = per(before.PageWrites, after.PageWrites)
	}
}
