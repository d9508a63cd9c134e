// Package notify announces remediation findings: a Slack-compatible JSON POST
// ({"text": ...}) to the configured URL, once per new finding and once when it is fixed.
//
// Delivery goes through a task on the remediation queue, so a notify endpoint that is down
// only delays a message: the queue retries it with backoff until it is delivered. The
// task's name is derived from the finding, its state and its occurrence, so re-detecting
// a finding enqueues nothing new, and the finding's NotifiedState (written once the POST
// succeeded) stops a late duplicate from being sent twice.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/tasks"
)

// Path is the remediation service's handler of notification tasks.
const Path = "/tasks/remediation/notify"

// Message is the body of a notification task.
type Message struct {
	Finding string `json:"finding"` // finding id
	State   string `json:"state"`   // the state announced
	Text    string `json:"text"`
}

// Due reports whether f's current state should be announced. A finding is announced when
// it is open or failed for the first time in its occurrence, and when it is fixed after
// being announced, or fixed by Greep's own patch (a finding found and fixed in one go is
// then one message). Exempt findings and findings waiting for their patch are not
// announced; re-detections are not either, because NotifiedState already matches.
func Due(f greep.Finding, fixedByPatch bool) bool {
	if f.State == f.NotifiedState {
		return false
	}
	switch f.State {
	case greep.FindingOpen:
		return !PatchPending(f)
	case greep.FindingFailed:
		return true
	case greep.FindingFixed:
		return fixedByPatch || f.NotifiedState == greep.FindingOpen || f.NotifiedState == greep.FindingFailed
	}
	return false
}

// DetailPatchQueued starts the detail of an open finding whose patch is queued: it is
// announced with the patch's outcome rather than twice.
const DetailPatchQueued = "patch queued"

// PatchPending reports whether f waits for a queued patch.
func PatchPending(f greep.Finding) bool {
	return f.State == greep.FindingOpen && strings.HasPrefix(f.Detail, DetailPatchQueued)
}

// Text renders the announcement of f's current state.
func Text(f greep.Finding) string {
	var b strings.Builder
	member := f.Field == rules.FieldMember
	switch f.State {
	case greep.FindingOpen, greep.FindingFailed:
		fmt.Fprintf(&b, ":warning: Greep: %s breaks rule %s", f.Group, f.Rule)
		if member {
			fmt.Fprintf(&b, " (%s)", f.Detail)
		} else {
			fmt.Fprintf(&b, ": %s is %s (safe: %s)", f.Field, f.Before, f.After)
		}
		if f.ChangedBy != "" {
			fmt.Fprintf(&b, ", set by %s", f.ChangedBy)
		}
		if f.State == greep.FindingFailed {
			fmt.Fprintf(&b, ". Not fixed: %s", f.Detail)
		} else if !member && f.Detail != "" {
			fmt.Fprintf(&b, ". %s", f.Detail)
		}
	case greep.FindingFixed:
		if member {
			fmt.Fprintf(&b, ":white_check_mark: Greep: %s no longer breaks rule %s", f.Group, f.Rule)
		} else {
			fmt.Fprintf(&b, ":white_check_mark: Greep: %s fixed for rule %s: %s was %s, now %s", f.Group, f.Rule, f.Field, f.Before, f.After)
			if f.ChangedBy != "" {
				fmt.Fprintf(&b, " (set by %s)", f.ChangedBy)
			}
		}
	default:
		fmt.Fprintf(&b, "Greep: %s rule %s is %s", f.Group, f.Rule, f.State)
	}
	return b.String()
}

// TaskName is the notification task's name: one per finding, state and occurrence (a
// fixed finding that comes back starts a new occurrence at its new FirstSeen).
func TaskName(f greep.Finding) string {
	return tasks.Name(f.ID, "notify", f.State, f.FirstSeen.UTC().Format(time.RFC3339Nano))
}

// Enqueue queues the announcement of f's current state on the remediation queue.
func Enqueue(ctx context.Context, q queue.Enqueuer, f greep.Finding) error {
	t, err := tasks.New(tasks.QueueRemediation, Path, TaskName(f), Message{Finding: f.ID, State: f.State, Text: Text(f)}, time.Time{})
	if err != nil {
		return err
	}
	if err := q.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("notify: enqueue for finding %s: %w", f.ID, err)
	}
	return nil
}

// Poster sends the POST. An error means "try again later".
type Poster struct {
	URL    string
	Client *http.Client
}

// Post sends text to the notify URL as {"text": text}. Any answer but 2xx is an error, so
// the task is retried; the body of a failed answer is quoted (bounded) for the logs.
func (p *Poster) Post(ctx context.Context, text string) error {
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("notify: POST: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify: POST answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// Findings is what delivery needs of the finding store.
type Findings interface {
	Finding(ctx context.Context, id string) (greep.Finding, error)
	UpdateFinding(ctx context.Context, id string, fn func(f *greep.Finding) error) (greep.Finding, error)
}

// Sender delivers notification tasks.
type Sender struct {
	Store Findings
	// Poster posts to the notify URL; nil (no URL configured) records the message as
	// delivered without sending it, so turning notifications on later does not replay
	// every old finding.
	Poster *Poster
	Log    *zap.Logger
}

// Deliver sends one queued message, unless the finding's state was already announced. An
// error means the task should be retried.
func (s *Sender) Deliver(ctx context.Context, m Message) error {
	f, err := s.Store.Finding(ctx, m.Finding)
	if greep.ErrorCode(err) == greep.ENOTFOUND {
		return nil // the finding is gone: nothing left to announce
	}
	if err != nil {
		return fmt.Errorf("notify: reading finding %s: %w", m.Finding, err)
	}
	if f.NotifiedState == m.State {
		return nil // a duplicate of a message already delivered
	}
	if s.Poster != nil && s.Poster.URL != "" {
		if err := s.Poster.Post(ctx, m.Text); err != nil {
			return err
		}
	}
	_, err = s.Store.UpdateFinding(ctx, m.Finding, func(f *greep.Finding) error {
		if f.ID == "" {
			return greep.Errorf(greep.ENOTFOUND, "finding %s", m.Finding)
		}
		f.NotifiedState = m.State
		return nil
	})
	if err != nil && greep.ErrorCode(err) != greep.ENOTFOUND && s.Log != nil {
		// The message went out; failing the task would send it again. Log it instead: at
		// worst a later re-detection announces the state once more.
		s.Log.Error("notification sent but not recorded", zap.String("finding", m.Finding), zap.Error(err))
	}
	return nil
}
