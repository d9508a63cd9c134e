package push

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
)

// A burst of events on one group must cost one refresh, so the first event on a group
// opens a window: it records a marker in the store (one small state document per group and
// kind of work) and enqueues a task named for the group and the window's start, scheduled
// at the window's end. Events that arrive while the window is open find the marker and do
// nothing more: the refresh runs after them and re-reads the whole group anyway. This is a
// leading-edge debounce, so a group under constant change is refreshed once per window, not
// never.
//
// The task body is fixed when it is enqueued, so it carries the expectations of the
// notification that opened the window. Events later in the window are covered by the
// refresh reading after them; if Google's read still lags one of those, the periodic
// resync (which exists because Google may drop notifications at all) brings it in.
//
// The marker is written before the task is enqueued and marked Enqueued after, so a crash
// or enqueue failure in between is repaired by the next notification on the group, or by
// Google redelivering this one (we answered 5xx): whoever finds a window that is not
// marked enqueued, open or already past, enqueues its task again, and the task name makes
// that idempotent.

// window is the marker of one group's open debounce window.
type window struct {
	Start    time.Time           `json:"start"`
	Due      time.Time           `json:"due"`
	Reason   string              `json:"reason"`
	Expect   []tasks.Expectation `json:"expect,omitempty"`
	Enqueued bool                `json:"enqueued,omitempty"`
	// ChangedAt is the time of the earliest event of the notification that opened the
	// window, the start of the change-to-confirmed freshness.
	ChangedAt time.Time `json:"changedAt,omitzero"`
	// The event that opened the window: the cause the change feed names.
	Actor      string `json:"actor,omitempty"`
	ActivityID string `json:"activityId,omitempty"`
}

// Kinds of debounced work.
const (
	kindRefresh  = "refresh"
	kindSettings = "settings"
	kindUser     = "user" // a user's re-read; the "group" of its job is the user's email
)

// job is one piece of debounced work on one group.
type job struct {
	kind      string
	group     string
	reason    string
	expect    []tasks.Expectation
	changedAt time.Time
	// actor and activityID name the event behind the job, for the change feed.
	actor, activityID string
}

// StateName is the name of the state document holding the debounce marker of a group's
// refresh ("refresh") or settings read ("settings"), for tests and the status page.
func StateName(kind, group string) string { return "push/" + kind + "/" + group }

// errUnchanged aborts an UpdateState whose document needs no write.
var errUnchanged = errors.New("unchanged")

type debouncer struct {
	store  Store
	queue  queue.Enqueuer
	window time.Duration
	now    func() time.Time
}

// schedule makes sure j's work is scheduled. open says the events are new: they may open
// a window. A redelivered notification (open false) only repairs an open window whose task
// is not known to be enqueued, so it never buys a second refresh.
func (d *debouncer) schedule(ctx context.Context, j job, open bool) error {
	now := d.now()
	name := StateName(j.kind, j.group)

	// Almost every event of a burst stops here, with one read and no write.
	var cur window
	found, err := greep.LoadState(ctx, d.store, name, &cur)
	if err != nil {
		return fmt.Errorf("debounce %s: %w", name, err)
	}
	pending := found && cur.Due.After(now)
	lost := found && !pending && !cur.Enqueued // a past window whose task never made it
	if (pending && cur.Enqueued) || (!pending && !open && !lost) {
		return nil
	}

	var w window
	act := false
	_, err = greep.UpdateStateJSON(ctx, d.store, name, func(m *window) error {
		switch {
		case m.Due.After(now) && m.Enqueued:
			return errUnchanged
		case m.Due.After(now):
			w, act = *m, true
			return errUnchanged
		case !open && !m.Start.IsZero() && !m.Enqueued:
			// Its schedule time has passed, so the repaired task runs at once.
			w, act = *m, true
			return errUnchanged
		case !open:
			return errUnchanged
		}
		*m = window{Start: now, Due: now.Add(d.window), Reason: j.reason, Expect: j.expect, ChangedAt: j.changedAt, Actor: j.actor, ActivityID: j.activityID}
		w, act = *m, true
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("debounce %s: %w", name, err)
	}
	if !act {
		return nil
	}

	t, err := d.task(j, w)
	if err != nil {
		return err
	}
	if err := d.queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("debounce %s: enqueue %s: %w", name, t.Path, err)
	}
	_, err = greep.UpdateStateJSON(ctx, d.store, name, func(m *window) error {
		if !m.Start.Equal(w.Start) || m.Enqueued {
			return errUnchanged
		}
		m.Enqueued = true
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		// The task is queued; the next event on the group will only enqueue it again,
		// which its name makes a no-op.
		return fmt.Errorf("debounce %s: mark enqueued: %w", name, err)
	}
	return nil
}

// task builds the window's task. Its name comes from the group and the window's start, so
// any number of enqueues for one window make one task.
func (d *debouncer) task(j job, w window) (queue.Task, error) {
	name := tasks.Name(j.group, j.kind, w.Start.UTC().Format(time.RFC3339Nano))
	reason := "push: " + w.Reason
	switch j.kind {
	case kindSettings:
		return tasks.New(tasks.QueueSettings, tasks.PathSettingsGet, name,
			tasks.SettingsGet{Group: j.group, Reason: reason}, w.Due)
	case kindUser:
		return tasks.New(tasks.QueueDirectory, tasks.PathDirectoryUser, name,
			tasks.UserRefresh{User: j.group, Reason: reason}, w.Due)
	default:
		return tasks.New(tasks.QueueDirectory, tasks.PathDirectoryRefresh, name,
			tasks.Refresh{Group: j.group, Reason: reason, Expect: w.Expect, NotifiedAt: w.Start, ChangedAt: w.ChangedAt, Actor: w.Actor, ActivityID: w.ActivityID}, w.Due)
	}
}
