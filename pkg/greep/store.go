package greep

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Page asks for one page of a listing. Token is the opaque cursor a previous page
// returned ("" for the first page); Limit <= 0 means the store's default.
type Page struct {
	Token string
	Limit int
}

// GroupStore holds groups and their member snapshots.
type GroupStore interface {
	// PutGroups upserts group metadata. It keeps each group's member snapshot,
	// MembersSyncedAt and MembersETag as they are.
	PutGroups(ctx context.Context, groups []Group) error
	// Group finds a group by id, email or alias (emails case-insensitively).
	Group(ctx context.Context, key string) (Group, error)
	// Groups lists groups ordered by email.
	Groups(ctx context.Context, p Page) (groups []Group, next string, err error)
	// DeleteGroup removes a group with its members and settings. Deleting a missing
	// group is not an error.
	DeleteGroup(ctx context.Context, id string) error
	// ReplaceMembers swaps a group's whole member list. Readers see the old list or the
	// new one, never a mix, however large the list. A list read before the stored one
	// (syncedAt earlier than the group's MembersSyncedAt) changes nothing and is not an
	// error: of two reads stored out of order, the later stays.
	ReplaceMembers(ctx context.Context, groupID string, members []Member, etag string, syncedAt time.Time) error
	// ReplaceMembersFrom is ReplaceMembers on the condition that the group's list is
	// still the version from: otherwise it stores nothing and returns an error of code
	// ECONFLICT. A writer that built the list from that version (the webhook's
	// provisional apply) so never puts an older list back over a read stored meanwhile,
	// in this process or another.
	ReplaceMembersFrom(ctx context.Context, groupID string, from MembersVersion, members []Member, etag string, syncedAt time.Time) error
	// Members returns the group's current member snapshot, ordered by email.
	Members(ctx context.Context, groupID string) ([]Member, error)
	// MemberOf returns the ids of the groups that hold memberKey (an email or id of a user
	// or group) as a direct member, from an index: it never scans every group.
	MemberOf(ctx context.Context, memberKey string) ([]string, error)
}

// DirectoryStore holds what else the workers read from Google.
type DirectoryStore interface {
	// PutUsers upserts users.
	PutUsers(ctx context.Context, users []User) error
	// User finds a user by id, primary email or alias (emails case-insensitively).
	User(ctx context.Context, key string) (User, error)
	// Users lists users ordered by primary email, those of q.Status only when it is set.
	Users(ctx context.Context, q UserQuery) (users []User, next string, err error)
	// DeleteUser removes a user. Deleting a missing user is not an error.
	DeleteUser(ctx context.Context, id string) error
	// PutSettings stores s unless the stored settings were read later (their ReadAt is
	// after s.ReadAt): then it stores nothing and returns an error of code ECONFLICT. Reads
	// and patches of one group overlap (a sweep's read and a push's, a read in flight
	// while a patch lands); a cache that let the older answer win would undo the patch
	// and patch again.
	PutSettings(ctx context.Context, s GroupSettings) error
	Settings(ctx context.Context, groupEmail string) (GroupSettings, error)
}

// EventQuery selects change history. Group filters by group email; Since by time.
type EventQuery struct {
	Group string
	Since time.Time
	Page
}

// EventStore is the change history.
type EventStore interface {
	// AddEvents records events; an event whose ID is already recorded is skipped.
	AddEvents(ctx context.Context, events []Event) (added int, err error)
	// Events lists events oldest first (by time, then id).
	Events(ctx context.Context, q EventQuery) (events []Event, next string, err error)
	// PruneEvents removes up to max of the oldest events whose time is before cutoff
	// (with their indexes, so a pruned event id is new again) and reports how many went;
	// callers loop until it returns 0.
	PruneEvents(ctx context.Context, cutoff time.Time, max int) (int, error)
}

// FindingQuery selects findings; empty fields match everything.
type FindingQuery struct {
	State string
	Group string
	Page
}

// FindingStore holds remediation findings.
type FindingStore interface {
	// UpdateFinding reads the finding with id (zero Finding with empty ID when there is
	// none), lets fn change it, and writes it back in one transaction. fn returning an
	// error aborts without writing.
	UpdateFinding(ctx context.Context, id string, fn func(f *Finding) error) (Finding, error)
	Finding(ctx context.Context, id string) (Finding, error)
	Findings(ctx context.Context, q FindingQuery) (findings []Finding, next string, err error)
}

// StateStore keeps small named JSON documents (sync progress, channel lists, queue
// settings) and counters.
type StateStore interface {
	// State returns the document called name, or an error of code ENOTFOUND.
	State(ctx context.Context, name string) ([]byte, error)
	// UpdateState replaces the document in one transaction with what fn returns for the
	// current value (nil when there is none). fn returning an error aborts.
	UpdateState(ctx context.Context, name string, fn func(cur []byte) ([]byte, error)) error
	// AddCount adds delta to the counter called name and returns the new total. It is
	// correct with many writers at once (Datastore shards it).
	AddCount(ctx context.Context, name string, delta int64) (int64, error)
	// Count returns the counter's total (0 when it was never written).
	Count(ctx context.Context, name string) (int64, error)
}

// RecordStore keeps opaque records by kind and id; the local task dispatcher keeps its
// tasks and name tombstones in it so a restart loses none.
type RecordStore interface {
	// CreateRecord writes a record that must not exist yet (error code ECONFLICT if it does).
	CreateRecord(ctx context.Context, kind, id string, data []byte) error
	PutRecord(ctx context.Context, kind, id string, data []byte) error
	DeleteRecord(ctx context.Context, kind, id string) error
	// DeleteRecords deletes the records of kind with ids (missing ones are fine) in as
	// few writes as the backend allows: one transaction on bbolt, a call per 500 on
	// Datastore. A failed call may leave some deleted.
	DeleteRecords(ctx context.Context, kind string, ids []string) error
	// Records calls fn for every record of kind, in id order.
	Records(ctx context.Context, kind string, fn func(id string, data []byte) error) error
}

// Store is the whole cache. Implementations: pkg/cache/bolt (embedded) and
// pkg/cache/datastore (Cloud Datastore).
type Store interface {
	GroupStore
	DirectoryStore
	EventStore
	FindingStore
	StateStore
	RecordStore
	ChangeStore
	Committer
	Close() error
}

// LoadState decodes the JSON document called name into v. It reports false when the
// document does not exist.
func LoadState(ctx context.Context, s StateStore, name string, v any) (bool, error) {
	b, err := s.State(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, Errorf(EINTERNAL, "state %q: %v", name, err)
	}
	return true, nil
}

// UpdateStateJSON is UpdateState for a JSON-encoded T: fn sees the current value (the zero
// T when there is none) and changes it in place.
func UpdateStateJSON[T any](ctx context.Context, s StateStore, name string, fn func(v *T) error) (T, error) {
	var out T
	err := s.UpdateState(ctx, name, func(cur []byte) ([]byte, error) {
		var v T
		if cur != nil {
			if err := json.Unmarshal(cur, &v); err != nil {
				return nil, Errorf(EINTERNAL, "state %q: %v", name, err)
			}
		}
		if err := fn(&v); err != nil {
			return nil, err
		}
		out = v
		return json.Marshal(v)
	})
	return out, err
}
