// Package tasks is the contract between Greep's services: the queue names, the handler
// paths and the JSON bodies of the tasks one service hands another. Keeping them in one
// place is what lets the push service ask the directory service for a refresh without
// importing it.
package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/queue"
)

// Queues (lanes) of queues.yaml. Push-driven work and background sweeps of one API run in
// separate lanes that split the API's rate, so push work never waits behind a sweep.
const (
	QueueDirectory      = "directory"            // push-driven refreshes
	QueueDirectorySweep = "directory-sweep"      // full sync and resync
	QueueSettings       = "groupssettings"       // push-driven reads and patches
	QueueSettingsSweep  = "groupssettings-sweep" // the daily settings sweep
	QueueReports        = "reports"              // watch channels
	QueueRemediation    = "remediation"          // rule evaluation: no Google API call
)

// Handler paths, by service (dispatch.yaml routes /tasks/<service>/ to <service>).
const (
	PathDirectoryRefresh    = "/tasks/directory/refresh"    // body Refresh
	PathDirectoryUser       = "/tasks/directory/user"       // body UserRefresh
	PathSettingsGet         = "/tasks/groupssettings/get"   // body SettingsGet
	PathSettingsPatch       = "/tasks/groupssettings/patch" // body SettingsPatch
	PathRemediationEvaluate = "/tasks/remediation/evaluate" // body Evaluate
	PathRemediationJudge    = "/tasks/remediation/judge"    // body Judge
	PathReportsRenew        = "/tasks/reports/renew"        // body RenewChannel
)

// Expectation is what a push event announced about a group, so the refresh can tell
// whether Google's read already shows it (reads lag writes) or must be polled again.
type Expectation struct {
	Member  string `json:"member"`
	Present bool   `json:"present"`        // added (true) or removed (false)
	Role    string `json:"role,omitempty"` // the new role, for role changes
}

// Refresh asks the directory worker to re-read one group and its members.
type Refresh struct {
	Group   string        `json:"group"` // email or id
	Reason  string        `json:"reason"`
	Expect  []Expectation `json:"expect,omitempty"`
	Attempt int           `json:"attempt,omitempty"` // re-polls so far, for backoff
	// NotifiedAt is when the notification that asked for the refresh arrived, ChangedAt
	// when Google says the change happened (zero for refreshes no push asked for): the
	// refresh that confirms the change measures freshness from them.
	NotifiedAt time.Time `json:"notifiedAt,omitzero"`
	ChangedAt  time.Time `json:"changedAt,omitzero"`
	// Actor and ActivityID name the activity that asked for the refresh (the first of a
	// debounced burst), copied into the change records the refresh writes.
	Actor      string `json:"actor,omitempty"`
	ActivityID string `json:"activityId,omitempty"`
}

// UserRefresh asks the directory worker to re-read one user (a user event: suspended,
// archived, renamed, deleted, an alias added or removed).
type UserRefresh struct {
	User   string `json:"user"`   // primary email (the new one after a rename), alias or id
	Reason string `json:"reason"` // the event that asked for it
}

// SettingsGet asks the groupssettings worker to read one group's settings.
type SettingsGet struct {
	Group  string `json:"group"` // email
	Reason string `json:"reason"`
	// Attempt counts the re-polls for a provisional setting the read did not show yet.
	Attempt int `json:"attempt,omitempty"`
}

// SettingsPatch asks the groupssettings worker to patch one group's settings with one
// valid combination of values.
type SettingsPatch struct {
	Group    string            `json:"group"`
	Patch    map[string]string `json:"patch"`
	Findings []string          `json:"findings"`
	RunID    string            `json:"runId,omitempty"`
}

// Evaluate asks the remediation worker to check one group's stored settings and members.
type Evaluate struct {
	Group string `json:"group"`
	RunID string `json:"runId,omitempty"`
}

// RenewChannel asks the reports worker to (re)create the watch channel of an application.
type RenewChannel struct {
	Application string `json:"application"`
}

// New builds a task with a JSON body.
func New(queueName, path, name string, body any, at time.Time) (queue.Task, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return queue.Task{}, fmt.Errorf("task %s: %w", path, err)
	}
	return queue.Task{Queue: queueName, Name: name, Path: path, Body: b, ScheduleTime: at}, nil
}

// Name derives a task name from its parts. The hash comes first: Cloud Tasks warns that
// sequential or timestamp prefixes hurt its latency, and hashing keeps any group email
// within the allowed characters.
func Name(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:12]) + "-" + sanitize(parts[0])
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}
