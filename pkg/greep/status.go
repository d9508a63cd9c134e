package greep

import "time"

// State names of the documents the workers keep in the StateStore, so writers and the
// read API agree on where to look.
const (
	StateSync     = "sync"     // SyncState, written by the directory worker
	StateChannels = "channels" // []Channel, written by the reports worker
)

// SyncState is the directory worker's progress, kept in the store so a restarted process
// resumes where it was and /v1/status can show it.
type SyncState struct {
	// State is idle, full-sync or resync.
	State          string    `json:"state"`
	Generation     int64     `json:"generation"`
	StartedAt      time.Time `json:"startedAt,omitempty"`
	LastFullSyncAt time.Time `json:"lastFullSyncAt,omitempty"`
	LastResyncAt   time.Time `json:"lastResyncAt,omitempty"`
	// GroupsTotal and GroupsDone measure the running sync; Groups and Members count
	// the cache.
	GroupsTotal int64 `json:"groupsTotal"`
	GroupsDone  int64 `json:"groupsDone"`
	// ListingDone says GroupsTotal is the total: before the listing's last page it is
	// only the groups listed so far.
	ListingDone bool  `json:"listingDone"`
	Groups      int64 `json:"groups"`
	Members     int64 `json:"members"`
	Calls       int64 `json:"calls"`
	// Failures are groups whose refresh failed in a way retrying cannot fix (a 4xx other
	// than 404), kept for the status page.
	Failures []SyncFailure `json:"failures,omitempty"`
	// Discrepancies are push events the cache still did not show after re-polling.
	Discrepancies []SyncFailure `json:"discrepancies,omitempty"`
}

// SyncFailure is one group the workers could not bring up to date.
type SyncFailure struct {
	Group string    `json:"group"`
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// QueueStat is one queue's figures for /v1/status.
type QueueStat struct {
	RatePerSecond float64 `json:"ratePerSecond"`
	Backlog       int64   `json:"backlog"`
	Dispatched    int64   `json:"dispatched"`
	Retries       int64   `json:"retries"`
	// ExecutedLastMinute is how many tasks ran in the last minute: Cloud Tasks' figure
	// in production, where Dispatched and Retries (the local dispatcher's counts since
	// start) are not known.
	ExecutedLastMinute int64 `json:"executedLastMinute,omitempty"`
	// Oldest is when the oldest task waiting in the queue was enqueued (zero when none
	// waits): a backlog that does not drain shows as an age that grows.
	Oldest time.Time `json:"oldest,omitzero"`
}

// QuotaUsage is one API's use of its daily quota for /v1/status.
type QuotaUsage struct {
	UsedToday  int64     `json:"usedToday"`
	DailyLimit int64     `json:"dailyLimit"`
	ResetAt    time.Time `json:"resetAt"`
}
