package directory

import (
	"context"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// userFinding records in the history what a users sweep found changed: a user created,
// renamed, suspended or archived (or back), or deleted that no event announced (a lost
// notification, or a change made while Greep was down). A change push announced was
// stored by the user refresh it enqueued before the sweep came, so the sweep finds
// nothing to record; one it did not is recorded once, named as Reports names it, with
// the cause resync and no actor, like a resync's group changes.
type userFinding struct {
	started time.Time // the sweep's start: with the user and event, the event's id
	at      time.Time
}

// userChange is one change of a user, named as the Reports API names it.
type userChange struct {
	event, email, oldValue, newValue string
}

// userChanges compares the cached user (known) with the one Google lists.
func userChanges(prev greep.User, known bool, u greep.User) []userChange {
	if !known {
		return []userChange{{event: "CREATE_USER", email: u.PrimaryEmail}}
	}
	var out []userChange
	if prev.PrimaryEmail != u.PrimaryEmail {
		out = append(out, userChange{event: "RENAME_USER", email: prev.PrimaryEmail, oldValue: prev.PrimaryEmail, newValue: u.PrimaryEmail})
	}
	flag := func(was, is bool, on, off string) {
		switch {
		case is && !was:
			out = append(out, userChange{event: on, email: u.PrimaryEmail})
		case was && !is:
			out = append(out, userChange{event: off, email: u.PrimaryEmail})
		}
	}
	flag(prev.Suspended, u.Suspended, "SUSPEND_USER", "UNSUSPEND_USER")
	flag(prev.Archived, u.Archived, "ARCHIVE_USER", "UNARCHIVE_USER")
	return out
}

// record writes the changes of one user as history events. Their ids come from the
// sweep, the user and the event, so a page run twice records them once.
func (f *userFinding) record(ctx context.Context, s Store, changes []userChange) error {
	if len(changes) == 0 {
		return nil
	}
	events := make([]greep.Event, len(changes))
	for i, c := range changes {
		events[i] = greep.Event{
			ID:   "users-sweep:" + f.started.UTC().Format(time.RFC3339Nano) + ":" + c.email + ":" + c.event,
			Time: f.at, Application: "admin", Event: c.event, Member: c.email,
			OldValue: c.oldValue, NewValue: c.newValue, Cause: greep.CauseResync,
		}
	}
	if _, err := s.AddEvents(ctx, events); err != nil {
		return fmt.Errorf("recording what the users sweep found: %w", err)
	}
	return nil
}
