package fanout

import "context"

// Drain publishes from the stored cursor until the feed is caught up or at least max
// records went out, and returns how many did. It is the bounded catch-up a request
// handler runs (the directory service after a task, and its cron as the safety net),
// where Run's endless loop has no place.
func (p *Publisher) Drain(ctx context.Context, max int) (int, error) {
	total := 0
	for total < max {
		n, err := p.round(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}
