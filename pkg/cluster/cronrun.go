package cluster

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// runCron runs job on its schedule until ctx ends. An interval job also runs once at
// once, so a new cluster starts its first sync and watch channels as greep local does;
// a daily job waits for its time.
func (c *Cluster) runCron(ctx context.Context, job CronJob) {
	next := time.Now()
	if !job.Interval() {
		next = job.Next(next)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		if err := c.Cron(ctx, job.URL); err != nil && ctx.Err() == nil {
			c.logf("cron %s: %v", job.URL, err)
		}
		next = job.Next(time.Now())
	}
}

// Cron runs one cron URL now, as App Engine cron does: a GET with X-Appengine-Cron: true
// sent straight to the service dispatch.yaml routes it to (the job's target when no rule
// matches), never through the front, which strips the header.
func (c *Cluster) Cron(ctx context.Context, path string) error {
	svc := Route(c.top.Rules, "", path)
	if svc == defaultService {
		for _, j := range c.top.Cron {
			if j.URL == path {
				svc = j.Target
			}
		}
	}
	base, ok := c.target(svc)
	if !ok {
		return fmt.Errorf("cron %s: no service %s", path, svc)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Appengine-Cron", "true")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("cron %s on %s: %s", path, svc, res.Status)
	}
	return nil
}
