package metrics

import (
	"context"

	"github.com/greephq/greep/pkg/greep"
)

// WriteStats passes on the instrumented store's write counts (the bench reads them), or
// zero when it keeps none.
func (c *countingStore) WriteStats() greep.WriteStats {
	if w, ok := c.Store.(interface{ WriteStats() greep.WriteStats }); ok {
		return w.WriteStats()
	}
	return greep.WriteStats{}
}

// Commit counts a failed unit of work as a store error, as the other writes are.
func (c *countingStore) Commit(ctx context.Context, w *greep.Writes) error {
	return c.check(ctx, "Commit", c.Store.Commit(ctx, w))
}

// CommitAll passes several units on to be committed together where the store can (the
// embedded store, for the local dispatcher's gathered runs); each failed unit counts as
// Commit's error does.
func (c *countingStore) CommitAll(ctx context.Context, ws []*greep.Writes) []error {
	errs := greep.CommitAll(ctx, c.Store, ws)
	for i, err := range errs {
		errs[i] = c.check(ctx, "Commit", err)
	}
	return errs
}
