package greep

import (
	"context"
	"time"
)

// Change kinds: what one change record says happened.
const (
	ChangeAdded         = "added"
	ChangeRemoved       = "removed"
	ChangeRoleChanged   = "roleChanged"
	ChangeTypeChanged   = "typeChanged"
	ChangeStatusChanged = "statusChanged"
	ChangeEmailChanged  = "emailChanged"
	ChangeGroupCreated  = "groupCreated"
	ChangeGroupDeleted  = "groupDeleted"
	ChangeGroupRenamed  = "groupRenamed"
	// ChangeConfirmed: Google's read shows what a provisional change (ActivityID) said;
	// the member's value is now Google's (After), no longer provisional.
	ChangeConfirmed = "confirmed"
)

// Causes: what made the cache change.
const (
	CausePush     = "push"
	CauseResync   = "resync"
	CauseFullSync = "fullSync"
)

// ChangeValue is one side (before or after) of a change: a member's fields for member
// kinds, a group's id, email and name for group kinds.
type ChangeValue struct {
	ID     string `json:"id,omitempty"`
	Email  string `json:"email,omitempty"`
	Name   string `json:"name,omitempty"`
	Role   string `json:"role,omitempty"`
	Type   string `json:"type,omitempty"`
	Status string `json:"status,omitempty"`
}

// MemberValue is the ChangeValue of a member.
func MemberValue(m Member) *ChangeValue {
	return &ChangeValue{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status}
}

// Member turns a member's ChangeValue back into the member.
func (v ChangeValue) Member() Member {
	return Member{ID: v.ID, Email: v.Email, Role: v.Role, Type: v.Type, Status: v.Status}
}

// GroupValue is the ChangeValue of a group.
func GroupValue(g Group) *ChangeValue { return &ChangeValue{ID: g.ID, Email: g.Email, Name: g.Name} }

// Change is one change record of the cache's change feed. Records are written in the
// same transaction as the change they describe, so a record is visible exactly when the
// change is; Cursor grows across the whole tenant in commit order.
type Change struct {
	Cursor  uint64    `json:"cursor,string"`
	Time    time.Time `json:"time"`
	GroupID string    `json:"groupId"`
	// Group is the group's email when the change was stored.
	Group string `json:"group"`
	// Member is the member's email (its id when it has none); empty for group kinds.
	Member string       `json:"member,omitempty"`
	Kind   string       `json:"kind"`
	Before *ChangeValue `json:"before,omitempty"`
	After  *ChangeValue `json:"after,omitempty"`
	ChangeCause
}

// ChangeCause says why the cache changed: Cause is CausePush, CauseResync, CauseFullSync
// or empty (a write nobody labelled); a push refresh knows the activity that announced it.
type ChangeCause struct {
	Cause      string `json:"cause,omitempty"`
	Actor      string `json:"actor,omitempty"`
	ActivityID string `json:"activityId,omitempty"`
	// Provisional marks a change applied from a notification's own content, before
	// Google's read confirmed it (design rule 11).
	Provisional bool `json:"provisional,omitempty"`
	// Reverted marks a change that undoes a provisional one (ActivityID) Google's read
	// never showed.
	Reverted bool `json:"reverted,omitempty"`
	// Members, when set, names the activity behind each member's change of a write that
	// carries several (by folded member email): its records take the member's cause, and
	// a member whose provisional change the write confirms gets a ChangeConfirmed record.
	Members map[string]MemberCause `json:"-"`
	// At is when the change is recorded, on the writer's clock (the simulator's under
	// greep local); zero means the store's wall clock.
	At time.Time `json:"-"`
}

// MemberCause is what one member's records of a write say beyond the write's cause.
type MemberCause struct {
	Actor, ActivityID string
	// Confirmed: the write is Google's read showing the member's provisional change.
	Confirmed bool
	// Reverted: the write drops the member's provisional change, which the read never
	// showed.
	Reverted bool
}

type causeKey struct{}

// WithCause labels the cache writes made with ctx: the stores copy c into every change
// record they write. A cause travels in the context because it is a fact about the
// caller, not about the data written.
func WithCause(ctx context.Context, c ChangeCause) context.Context {
	return context.WithValue(ctx, causeKey{}, c)
}

// CauseOf returns the cause WithCause put in ctx, with At set (to time.Now when the
// caller gave none).
func CauseOf(ctx context.Context) ChangeCause {
	c, _ := ctx.Value(causeKey{}).(ChangeCause)
	if c.At.IsZero() {
		c.At = time.Now()
	}
	c.At = c.At.UTC()
	return c
}

// ChangeQuery selects change records.
type ChangeQuery struct {
	// Since is the cursor the reader has seen: records after it are returned.
	Since uint64
	// Group, when set, keeps the records of the group with this id or email.
	Group string
	// Limit caps the records returned (<= 0: the store's default page size).
	Limit int
}

// ChangeLog describes the feed: Head is the last cursor written (0: none yet); records up
// to Pruned (inclusive) are gone.
type ChangeLog struct {
	Head   uint64 `json:"head,string"`
	Pruned uint64 `json:"pruned,string"`
}

// ChangeStore is the change feed of the cache.
type ChangeStore interface {
	// Changes returns the records after q.Since, oldest first, and the cursor the reader
	// is at afterwards (the last record read, matching the group or not; q.Since when there
	// was none). A Since below the pruned part of the feed is an error of code EGONE; one
	// past the head, EINVALID.
	Changes(ctx context.Context, q ChangeQuery) (changes []Change, next uint64, err error)
	// ChangeLog returns the feed's head and pruned point.
	ChangeLog(ctx context.Context) (ChangeLog, error)
	// PruneChanges removes up to max of the oldest records written before cutoff and
	// reports how many went; callers loop until it returns 0.
	PruneChanges(ctx context.Context, cutoff time.Time, max int) (int, error)
	// ChangeSignal returns a channel closed once a record is committed after the call,
	// by this process: a long poll waits on it instead of polling the store.
	ChangeSignal() <-chan struct{}
}
