// Package greep holds Greep's domain: the types every part shares (groups, members, settings,
// change events, findings, watch channels) and the small store interfaces the cache
// implements. It imports nothing of Greep's own, so every other package may import it.
package greep

import "time"

// Group is one Google group as the Directory API last described it.
type Group struct {
	ID      string   `json:"id"`
	Email   string   `json:"email"`
	Aliases []string `json:"aliases,omitempty"`
	// NonEditableAliases are the addresses Google gives the group itself (in the tenant's
	// test domain, say); they are keys of the group as its aliases are.
	NonEditableAliases []string `json:"nonEditableAliases,omitempty"`
	Name               string   `json:"name"`
	Description        string   `json:"description,omitempty"`
	DirectMembersCount int64    `json:"directMembersCount"`
	// ETag is the Directory API's etag for the group. It changes when the group or its
	// membership changes, which is what lets a resync skip unchanged groups.
	ETag string `json:"etag,omitempty"`
	// SyncedAt is when the group's metadata was last read from Google.
	SyncedAt time.Time `json:"syncedAt"`
	// MembersSyncedAt is when the member snapshot was last replaced. PutGroups leaves it
	// (and the snapshot) alone; only ReplaceMembers sets it.
	MembersSyncedAt time.Time `json:"membersSyncedAt,omitempty"`
	// MembersETag is the group ETag the current member snapshot was read under.
	// A resync refreshes members when it differs from ETag.
	MembersETag string `json:"membersETag,omitempty"`
	// Generation is the full-sync generation that last saw the group; a full sync removes
	// groups it did not see.
	Generation int64 `json:"generation,omitempty"`
}

// MembersVersion names one version of a group's member list: the MembersETag and
// MembersSyncedAt the ReplaceMembers that stored it set.
type MembersVersion struct {
	ETag     string
	SyncedAt time.Time
}

// MembersVersion is the version of g's member list when g was read.
func (g Group) MembersVersion() MembersVersion {
	return MembersVersion{ETag: g.MembersETag, SyncedAt: g.MembersSyncedAt}
}

// Is reports whether v and w name the same version.
func (v MembersVersion) Is(w MembersVersion) bool {
	return v.ETag == w.ETag && v.SyncedAt.Equal(w.SyncedAt)
}

// Member is one direct member of a group, as members.list returns it.
type Member struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`   // OWNER, MANAGER, MEMBER
	Type   string `json:"type"`   // USER, GROUP, CUSTOMER, EXTERNAL
	Status string `json:"status"` // ACTIVE, SUSPENDED, ARCHIVED, UNDEFINED
}

// Member types and roles used in decisions (the rest pass through as strings).
const (
	TypeUser     = "USER"
	TypeGroup    = "GROUP"
	TypeCustomer = "CUSTOMER"
	TypeExternal = "EXTERNAL"
)

// User is a user of the tenant, needed for membership hygiene (suspended or archived
// people who still hold access).
type User struct {
	ID                 string   `json:"id"`
	PrimaryEmail       string   `json:"primaryEmail"`
	Aliases            []string `json:"aliases,omitempty"`
	NonEditableAliases []string `json:"nonEditableAliases,omitempty"`
	Suspended          bool     `json:"suspended,omitempty"`
	Archived           bool     `json:"archived,omitempty"`
	// SyncedAt is when the user was last read from Google (or changed by an event).
	SyncedAt time.Time `json:"syncedAt,omitzero"`
}

// AllAliases are every address besides the primary one that names the group: a key
// Google accepts for it.
func (g Group) AllAliases() []string { return joinAliases(g.Aliases, g.NonEditableAliases) }

// AllAliases are every address besides the primary one that names the user.
func (u User) AllAliases() []string { return joinAliases(u.Aliases, u.NonEditableAliases) }

func joinAliases(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	return append(append(make([]string, 0, len(a)+len(b)), a...), b...)
}

// Settings are a group's Groups Settings API fields. Every value is a string there,
// booleans included ("true"/"false"), so a map keeps the store independent of the
// API's field list.
type Settings map[string]string

// GroupSettings is a group's settings with the time they were read.
type GroupSettings struct {
	GroupEmail string    `json:"groupEmail"`
	Settings   Settings  `json:"settings"`
	ReadAt     time.Time `json:"readAt"`
}

// Event is one entry of the change history, taken from a Reports API activity.
type Event struct {
	// ID is unique per activity event (the activity's id.uniqueQualifier and the event's
	// index), so a re-delivered notification is recorded once.
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Application string    `json:"application,omitempty"` // admin or groups
	Actor       string    `json:"actor"`
	Event       string    `json:"event"` // ADD_GROUP_MEMBER, CHANGE_GROUP_SETTING, ...
	Group       string    `json:"group"` // group email
	Member      string    `json:"member,omitempty"`
	Setting     string    `json:"setting,omitempty"`
	OldValue    string    `json:"oldValue,omitempty"`
	NewValue    string    `json:"newValue,omitempty"`
	// Cause is set on an event taken from a change record rather than an activity: the
	// sync that found the change (CauseResync or CauseFullSync); such an event has no
	// actor. Cursor is that record's cursor on the change feed.
	Cause  string `json:"cause,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// Finding states.
const (
	FindingOpen   = "open"
	FindingFixed  = "fixed"
	FindingExempt = "exempt"
	FindingFailed = "failed"
)

// Finding is one rule broken by one group. Its ID is derived from (group, rule), so a
// re-detection updates the same finding instead of creating a new one.
type Finding struct {
	ID        string    `json:"id"`
	Group     string    `json:"group"` // group email
	Rule      string    `json:"rule"`
	Field     string    `json:"field"`
	State     string    `json:"state"`
	Before    string    `json:"before"`
	After     string    `json:"after"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// ChangedBy is the actor of the change that made the group unsafe, when the change
	// history knows it.
	ChangedBy string `json:"changedBy,omitempty"`
	Detail    string `json:"detail,omitempty"`
	// Patch bookkeeping: how many patches were sent on PatchDay, to stop a patch loop
	// against someone who keeps setting the value back.
	PatchDay     string `json:"patchDay,omitempty"`
	PatchesToday int    `json:"patchesToday,omitempty"`
	// NotifiedState is the state last announced to the notify URL; a notification is
	// due when State differs from it.
	NotifiedState string `json:"notifiedState,omitempty"`
	// SettingsReadAt dates the settings the finding's state was decided on (the read an
	// evaluation judged, or the answer to the patch that fixed it). An evaluation of
	// settings read earlier is out of date for this finding and leaves it alone: a patch
	// that lands while it runs must not look like a new occurrence to patch again.
	SettingsReadAt time.Time `json:"settingsReadAt,omitzero"`
}

// Channel is a Reports API push channel Greep created.
type Channel struct {
	ID          string    `json:"id"`
	Application string    `json:"application"`
	ResourceID  string    `json:"resourceId"`
	Token       string    `json:"token"` // secret: stored, never served by the read API
	Address     string    `json:"address"`
	Expiration  time.Time `json:"expiration"`
	CreatedAt   time.Time `json:"createdAt"`
	State       string    `json:"state"` // live, stopped
}
