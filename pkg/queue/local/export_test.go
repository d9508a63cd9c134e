package local

// Gathered is how many finished runs of queue wait in its gather for the lane's other
// runs (gather.go).
func Gathered(d *Dispatcher, queue string) int {
	g := d.lanes[queue].gather
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// GatherLinger is gatherLinger, for tests that move a clock past it.
const GatherLinger = gatherLinger

// WorkersStarted is how many workers queue's lane has started.
func WorkersStarted(d *Dispatcher, queue string) int64 { return d.lanes[queue].started.Load() }
