package metrics

import "github.com/greephq/greep/pkg/greep"

// WriteStats passes on the instrumented store's write counts (the bench reads them), or
// zero when it keeps none.
func (c *countingStore) WriteStats() greep.WriteStats {
	if w, ok := c.Store.(interface{ WriteStats() greep.WriteStats }); ok {
		return w.WriteStats()
	}
	return greep.WriteStats{}
}
