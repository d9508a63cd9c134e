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
