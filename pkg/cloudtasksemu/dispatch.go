package cloudtasksemu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
)

// attempt is one delivery's outcome: the HTTP status, or 0 when no response came (the
// service did not answer, or the deadline passed).
type attempt struct {
	code int
	err  error
}

func (a attempt) ok() bool { return a.code >= 200 && a.code < 300 }

// dispatch delivers t, then retires it or schedules its retry.
func (q *queue) dispatch(t *task) {
	defer q.e.loops.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-q.e.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer cancel()

	q.e.mu.Lock()
	req, service := q.request(t)
	q.e.mu.Unlock()
	a := q.send(ctx, req, service, t.pb.DispatchDeadline.AsDuration())
	dup := a.ok() && q.e.cfg.DeliverTwice
	if dup {
		// The same request again, as when Cloud Tasks delivers an attempt twice.
		q.send(ctx, req, service, t.pb.DispatchDeadline.AsDuration())
	}

	q.e.mu.Lock()
	defer q.e.mu.Unlock()
	defer q.wakeUp()
	delete(q.inFlight, t.pb.Name)
	q.stats.Attempts++
	q.noteAttempt(q.e.cfg.Now())
	if dup {
		q.stats.Duplicates++
	}
	if ctx.Err() != nil && !a.ok() {
		return // the emulator closed under the attempt
	}
	t.dispatches++
	if a.code != 0 {
		t.responses++
		t.lastResponse = a.code
	}
	switch {
	case a.ok():
		q.stats.Succeeded++
		return
	case t.deleted:
		return
	}
	rc := q.pb.RetryConfig
	if rc.MaxAttempts >= 0 && t.dispatches >= rc.MaxAttempts {
		q.stats.Dropped++
		q.e.cfg.Logf("cloudtasksemu: %s dropped after %d attempts (last: %s)", t.pb.Name, t.dispatches, a.describe())
		return
	}
	q.stats.Retries++
	t.eta = q.e.cfg.Now().Add(Backoff(rc, int(t.dispatches)))
	q.e.cfg.Logf("cloudtasksemu: %s attempt %d failed (%s); retry at %s", t.pb.Name, t.dispatches, a.describe(), t.eta.Format(time.RFC3339Nano))
	q.add(t)
}

func (a attempt) describe() string {
	if a.code != 0 {
		return fmt.Sprintf("HTTP %d", a.code)
	}
	return fmt.Sprint(a.err)
}

// delivery is an attempt's request, built under the lock.
type delivery struct {
	method  string
	uri     string
	headers http.Header
	body    []byte
}

// request builds t's next attempt, with the headers App Engine sets on a task request;
// the caller holds e.mu.
func (q *queue) request(t *task) (delivery, string) {
	r := t.pb.GetAppEngineHttpRequest()
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	if len(r.Body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("User-Agent", "AppEngine-Google; (+http://code.google.com/appengine)")
	h.Set("X-AppEngine-QueueName", shortName(q.pb.Name))
	h.Set("X-AppEngine-TaskName", shortName(t.pb.Name))
	h.Set("X-AppEngine-TaskRetryCount", strconv.Itoa(int(t.dispatches)))
	h.Set("X-AppEngine-TaskExecutionCount", strconv.Itoa(int(t.responses)))
	h.Set("X-AppEngine-TaskETA", strconv.FormatFloat(float64(t.eta.UnixMicro())/1e6, 'f', 6, 64))
	if t.lastResponse != 0 {
		h.Set("X-AppEngine-TaskPreviousResponse", strconv.Itoa(t.lastResponse))
	}
	// The queue's routing override wins over the task's routing, as in Cloud Tasks.
	service := q.pb.GetAppEngineRoutingOverride().GetService()
	if service == "" {
		service = r.GetAppEngineRouting().GetService()
	}
	if service == "" {
		service = "default"
	}
	return delivery{method: r.HttpMethod.String(), uri: r.RelativeUri, headers: h, body: r.Body}, service
}

func shortName(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// send makes one HTTP request of d to the service, bounded by the dispatch deadline.
func (q *queue) send(ctx context.Context, d delivery, service string, deadline time.Duration) attempt {
	base, ok := q.e.cfg.Target(service)
	if !ok {
		return attempt{err: fmt.Errorf("no instance of service %q", service)}
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, d.method, base+d.uri, bytes.NewReader(d.body))
	if err != nil {
		return attempt{err: err}
	}
	req.Header = d.headers.Clone()
	res, err := q.e.cfg.Client.Do(req)
	if err != nil {
		return attempt{err: err}
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return attempt{code: res.StatusCode}
}

// Backoff is the wait before the retry that follows failed attempts (1 for the first
// retry): min_backoff doubled max_doublings times, then growing by that last step each
// retry, never over max_backoff, as Cloud Tasks documents (10s, 20s, 40s, 80s, 160s,
// 240s, 300s for 10s, 300s and 3 doublings).
func Backoff(rc *cloudtaskspb.RetryConfig, failed int) time.Duration {
	lo, hi := rc.GetMinBackoff().AsDuration(), rc.GetMaxBackoff().AsDuration()
	n, d := failed-1, int(rc.GetMaxDoublings())
	var wait time.Duration
	if n <= d {
		wait = lo << min(n, 62)
	} else {
		wait = (lo << min(d, 62)) * time.Duration(n-d+1)
	}
	if wait > hi || wait < 0 {
		return hi
	}
	return wait
}
