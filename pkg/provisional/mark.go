// Package provisional applies what a push notification says to the cache at once, before
// Google's read (design rule 11). A membership event's effect becomes a new snapshot
// version whose changed members are marked provisional; the debounced read then confirms
// each mark or, when the read still does not show it after the re-poll limit, drops it.
//
// The decisions are pure functions (Plan at a notification, Settle at a read); Applier is
// the thin part the webhook calls, and the directory worker settles its reads through
// Settle.
package provisional

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// MaxAge bounds how long a mark may stay provisional: a read this long after a mark was
// accepted drops it even outside a refresh's last re-poll (the default re-polls end in
// about half an hour).
const MaxAge = time.Hour

// Mark is one member's provisional change: what the last event applied on it said.
type Mark struct {
	// Member is the member's folded email, as the event names it.
	Member string `json:"member"`
	// Present: added (or given Role) when true, removed when false.
	Present bool   `json:"present"`
	Role    string `json:"role,omitempty"` // a role change's new role
	// Value is the member as applied (Present only).
	Value *greep.Member `json:"value,omitempty"`
	// EventTime and ActivityID order events on the member: the later one wins.
	EventTime  time.Time `json:"eventTime"`
	ActivityID string    `json:"activityId"`
	Actor      string    `json:"actor,omitempty"`
	// AcceptedAt is when the webhook applied it: a read that started earlier neither
	// confirms nor drops it.
	AcceptedAt time.Time `json:"acceptedAt"`
}

// Marks is a group's state document of provisional changes (StateName), one per member.
type Marks struct {
	Members []Mark `json:"members"`
}

// StateName is the name of the state document holding group id's marks.
func StateName(groupID string) string { return "provisional/" + groupID }

// Expectation is what Google's read must show for the mark to be confirmed.
func (m Mark) Expectation() tasks.Expectation {
	return tasks.Expectation{Member: m.Member, Present: m.Present, Role: m.Role}
}

// after reports whether an event (at, id) comes after the mark's: event time first, the
// activity id breaking ties, so a redelivered event is never after itself.
func (m Mark) after(at time.Time, id string) bool { return later(at, id, m.EventTime, m.ActivityID) }

// later reports whether the event (at, id) comes after the event (markAt, markID).
func later(at time.Time, id string, markAt time.Time, markID string) bool {
	if !at.Equal(markAt) {
		return at.After(markAt)
	}
	return id > markID
}

// ActivityIDs maps folded member email to the activity of its mark, for the read API.
func (ms Marks) ActivityIDs() map[string]string {
	if len(ms.Members) == 0 {
		return nil
	}
	out := make(map[string]string, len(ms.Members))
	for _, m := range ms.Members {
		if m.Present {
			out[m.Member] = m.ActivityID
		}
	}
	return out
}

func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// find returns the index in members of the member key names (email or id), or -1.
func find(members []greep.Member, key string) int {
	for i, m := range members {
		if fold(m.Email) == key || (m.ID != "" && m.ID == key) {
			return i
		}
	}
	return -1
}

// Load reads group id's marks (none when there is no document).
func Load(ctx context.Context, s interface {
	State(ctx context.Context, name string) ([]byte, error)
}, groupID string) (Marks, error) {
	var m Marks
	b, err := s.State(ctx, StateName(groupID))
	if errors.Is(err, greep.ErrNotFound) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, greep.Errorf(greep.EINTERNAL, "provisional changes of %s: %v", groupID, err)
	}
	return m, nil
}

// Save writes group id's marks, removing the document when there are none.
func Save(ctx context.Context, s greep.StateStore, groupID string, m Marks) error {
	return s.UpdateState(ctx, StateName(groupID), func([]byte) ([]byte, error) {
		if len(m.Members) == 0 {
			return nil, nil
		}
		return json.Marshal(m)
	})
}
