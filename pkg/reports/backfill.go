package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// A backfill lists, with activities.list, what an application logged while no channel
// delivered it: from the last event seen to the moment a new channel took over (after
// downtime, or when a channel lapsed). It is one call per task on the reports lane: each
// task lists one page, records it through the webhook's own code path (same parsing, same
// event ids, so nothing push already delivered is recorded twice) and enqueues the next
// page as a new task named after its page token. Its state is one state document per
// application, so a page refused by the quota guard or Google's 429 is retried later at
// the same page, and a restart picks the backfill up where it stopped.

// PathBackfill is the task that lists one page of a backfill (body BackfillPage).
const PathBackfill = "/tasks/reports/backfill"

// BackfillPageSize is the most activities one activities.list call returns.
const BackfillPageSize = 1000

// BackfillPage asks for the page of app's running backfill that starts at PageToken
// ("" for the first).
type BackfillPage struct {
	Application string    `json:"application"`
	StartTime   time.Time `json:"startTime"`
	PageToken   string    `json:"pageToken,omitempty"`
}

// Backfill is the state of an application's backfill (state document BackfillState(app)).
type Backfill struct {
	Application string    `json:"application"`
	Running     bool      `json:"running"`
	StartTime   time.Time `json:"startTime,omitzero"`
	EndTime     time.Time `json:"endTime,omitzero"`
	PageToken   string    `json:"pageToken,omitempty"`
	Pages       int       `json:"pages"`
	Recorded    int       `json:"recorded"` // events new to the history
	// Through is when the history of app was last known complete: the end of the last
	// backfill or reconciliation (or the first start). Backfills start from there.
	Through time.Time `json:"through,omitzero"`
	// Reconcile marks a backfill the cron started while channels stayed live
	// (reconcile.go): what it records, push lost.
	Reconcile bool `json:"reconcile,omitempty"`
}

// BackfillState names the state document of app's backfill.
func BackfillState(app string) string { return "reports/backfill/" + app }

// Recorder records events as the webhook does (push.Handler.Record).
type Recorder interface {
	Record(ctx context.Context, events []greep.Event) (added int, err error)
}

// History is the change history the last event seen is read from.
type History interface {
	Events(ctx context.Context, q greep.EventQuery) ([]greep.Event, string, error)
}

// StartBackfills starts (or makes sure the task of) a backfill of every watched
// application: greep local calls it at start, since the process being down is downtime.
func (w *Worker) StartBackfills(ctx context.Context) error {
	var errs []error
	for _, app := range w.policy.Applications {
		errs = append(errs, w.startBackfill(ctx, app))
	}
	return errors.Join(errs...)
}

// startBackfill starts app's backfill up to now, unless one is running: then it only
// enqueues the task of its current page again (the name makes that a no-op if queued).
// It starts where the history was last known complete (Through), not at the last event
// seen: events pushed after a gap (the push service down while the channel stayed live)
// say nothing of the gap. Only a store without Through (written before it existed) starts
// from its last event. Without a history to start from (first start) it only marks the
// history complete now: the first full sync reads the state itself.
func (w *Worker) startBackfill(ctx context.Context, app string) error {
	if w.record == nil {
		return nil
	}
	now := w.now()
	var cur Backfill
	if _, err := greep.LoadState(ctx, w.store, BackfillState(app), &cur); err != nil {
		return fmt.Errorf("reports: loading backfill %s: %w", app, err)
	}
	from := cur.Through
	if !cur.Running && from.IsZero() {
		last, err := w.lastEvent(ctx, app, from)
		if err != nil {
			return err
		}
		from = last
	}
	b, err := greep.UpdateStateJSON(ctx, w.store, BackfillState(app), func(b *Backfill) error {
		switch {
		case b.Running:
		case from.IsZero() || !from.Before(now):
			*b = Backfill{Application: app, Through: now}
		default:
			*b = Backfill{Application: app, Running: true, StartTime: from, EndTime: now, Through: b.Through}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reports: starting backfill %s: %w", app, err)
	}
	if !b.Running {
		return nil
	}
	w.log.Info("reports: backfill", zap.String("application", app), zap.Time("from", b.StartTime), zap.Time("to", b.EndTime), zap.Int("pages", b.Pages))
	return w.enqueuePage(ctx, b)
}

// lastEvent is the time of the newest event of app recorded since since (of any
// application when app has none: all of them stopped with Greep), zero if none. It reads
// the whole history after since; only a store without Through asks.
func (w *Worker) lastEvent(ctx context.Context, app string, since time.Time) (time.Time, error) {
	var ofApp, ofAny time.Time
	q := greep.EventQuery{Since: since, Page: greep.Page{Limit: BackfillPageSize}}
	for {
		evs, next, err := w.history.Events(ctx, q)
		if err != nil {
			return time.Time{}, fmt.Errorf("reports: reading history: %w", err)
		}
		for _, e := range evs {
			if e.Time.After(ofAny) {
				ofAny = e.Time
			}
			if e.Application == app && e.Time.After(ofApp) {
				ofApp = e.Time
			}
		}
		if next == "" {
			break
		}
		q.Token = next
	}
	if ofApp.IsZero() {
		return ofAny, nil
	}
	return ofApp, nil
}

func (w *Worker) enqueuePage(ctx context.Context, b Backfill) error {
	t, err := tasks.New(tasks.QueueReports, PathBackfill,
		tasks.Name(b.Application, "backfill", b.StartTime.UTC().Format(time.RFC3339Nano), b.PageToken),
		BackfillPage{Application: b.Application, StartTime: b.StartTime, PageToken: b.PageToken}, time.Time{})
	if err != nil {
		return err
	}
	if err := w.queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("reports: enqueue backfill page of %s: %w", b.Application, err)
	}
	return nil
}

// BackfillPage lists one page of app's running backfill (one activities.list call),
// records it and enqueues the next page. A task for a page the backfill has moved past
// only re-enqueues the current page's task, which repairs a lost enqueue.
func (w *Worker) BackfillPage(ctx context.Context, p BackfillPage) error {
	var b Backfill
	if _, err := greep.LoadState(ctx, w.store, BackfillState(p.Application), &b); err != nil {
		return fmt.Errorf("reports: loading backfill %s: %w", p.Application, err)
	}
	if !b.Running {
		return nil
	}
	if !b.StartTime.Equal(p.StartTime) || b.PageToken != p.PageToken {
		return w.enqueuePage(ctx, b)
	}
	items, next, err := w.list(ctx, b)
	if err != nil {
		return err
	}
	added := 0
	for _, raw := range items {
		events, err := activity.Parse(raw)
		if err != nil {
			// The webhook refuses such a body; here it is skipped, not retried forever.
			w.log.Warn("reports: backfill skips an activity", zap.String("application", b.Application), zap.Error(err))
			continue
		}
		n, err := w.record.Record(ctx, events)
		if err != nil {
			return err // the page is listed again; what it recorded is skipped then
		}
		added += n
	}
	b, err = greep.UpdateStateJSON(ctx, w.store, BackfillState(p.Application), func(s *Backfill) error {
		if !s.Running || !s.StartTime.Equal(p.StartTime) || s.PageToken != p.PageToken {
			return errNotDue // a duplicate of this task got here first
		}
		s.Pages++
		s.Recorded += added
		s.PageToken = next
		if next == "" {
			s.Running, s.Through = false, s.EndTime
		}
		return nil
	})
	if errors.Is(err, errNotDue) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reports: recording backfill page of %s: %w", p.Application, err)
	}
	if !b.Running {
		if b.Reconcile {
			w.reconciled(b)
		} else {
			w.log.Info("reports: backfill done", zap.String("application", b.Application), zap.Int("pages", b.Pages), zap.Int("recorded", b.Recorded))
		}
		return nil
	}
	return w.enqueuePage(ctx, b)
}

// list makes the page's activities.list call. It reads the raw JSON, not the official
// client's structs: those drop a false boolValue and a zero uniqueQualifier, and the
// activities must parse exactly as the webhook parses them.
func (w *Worker) list(ctx context.Context, b Backfill) ([]json.RawMessage, string, error) {
	q := url.Values{
		"startTime":  {b.StartTime.UTC().Format(time.RFC3339Nano)},
		"endTime":    {b.EndTime.UTC().Format(time.RFC3339Nano)},
		"maxResults": {fmt.Sprint(BackfillPageSize)},
	}
	if b.PageToken != "" {
		q.Set("pageToken", b.PageToken)
	}
	u := strings.TrimRight(w.reports.BasePath, "/") + "/admin/reports/v1/activity/users/all/applications/" +
		url.PathEscape(b.Application) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("reports: activities.list %s: %w", b.Application, err)
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		return nil, "", fmt.Errorf("reports: activities.list %s: %w", b.Application, err)
	}
	items, next, err := decodePage(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, "", fmt.Errorf("reports: activities.list %s: reading the answer: %w", b.Application, err)
	}
	return items, next, nil
}

// maxPage bounds an activities.list answer: 1,000 activities of a few kilobytes each.
const maxPage = 64 << 20

// decodePage splits an activities.list answer into its activities, left raw for
// activity.Parse, and the next page's token.
func decodePage(r io.Reader) ([]json.RawMessage, string, error) {
	var page struct {
		Kind          string            `json:"kind"`
		Items         []json.RawMessage `json:"items"`
		NextPageToken string            `json:"nextPageToken"`
	}
	if err := json.NewDecoder(r).Decode(&page); err != nil {
		return nil, "", err
	}
	if page.Kind != "" && page.Kind != "admin#reports#activities" {
		return nil, "", fmt.Errorf("an answer of kind %q, not admin#reports#activities", page.Kind)
	}
	if len(page.Items) > BackfillPageSize {
		return nil, "", fmt.Errorf("%d activities in one page, over the %d asked for", len(page.Items), BackfillPageSize)
	}
	return page.Items, page.NextPageToken, nil
}
