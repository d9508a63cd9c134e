package cloudtasksemu

// Stats is what a queue did so far. Cloud Tasks v2 exposes no queue statistics over its
// API; greep cluster and the scenarios read these from the emulator they run.
type Stats struct {
	RatePerSecond float64
	Queued        int   // waiting: scheduled later, due, or backing off before a retry
	InFlight      int   // being delivered
	Attempts      int64 // deliveries made (a duplicate delivery with its attempt counts once)
	Succeeded     int64 // tasks done (a 2xx answer)
	Retries       int64 // failed attempts followed by a retry
	Dropped       int64 // tasks given up after max_attempts
	Duplicates    int64 // tasks delivered a second time (Config.DeliverTwice)
}

// Backlog is the tasks not done yet.
func (s Stats) Backlog() int { return s.Queued + s.InFlight }

// Stats returns each queue's statistics, by queue id (the last part of its name).
func (e *Emulator) Stats() map[string]Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]Stats, len(e.queues))
	for name, q := range e.queues {
		s := q.stats
		s.RatePerSecond = q.pb.RateLimits.MaxDispatchesPerSecond
		s.Queued, s.InFlight = len(q.pending), len(q.inFlight)
		out[shortName(name)] = s
	}
	return out
}
