// Package activity turns the body of a Reports API push notification (one Activity, as
// activities.watch delivers it) into change-history events and the work they imply: which
// groups to refresh, with what the refresh should expect to see, and which groups' settings
// to read. It does no I/O, so the webhook stays thin and the parser can be fuzzed.
package activity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// Kind is the Activity resource's kind; a body that names another kind is not an activity.
const Kind = "admin#reports#activity"

// Applications whose activities Greep watches.
const (
	AppAdmin  = "admin"
	AppGroups = "groups"
)

// The JSON of an Activity, as far as Greep reads it. The official client's reports.Activity
// would do for decoding, but it cannot tell a missing uniqueQualifier from 0, and the
// unique id is what makes a re-delivered notification a no-op.
type activityJSON struct {
	Kind string `json:"kind"`
	ID   *struct {
		Time            string          `json:"time"`
		UniqueQualifier json.RawMessage `json:"uniqueQualifier"`
		ApplicationName string          `json:"applicationName"`
	} `json:"id"`
	Actor struct {
		Email      string `json:"email"`
		ProfileID  string `json:"profileId"`
		Key        string `json:"key"`
		CallerType string `json:"callerType"`
	} `json:"actor"`
	Events []struct {
		Type       string      `json:"type"`
		Name       string      `json:"name"`
		Parameters []parameter `json:"parameters"`
	} `json:"events"`
}

type parameter struct {
	Name          string          `json:"name"`
	Value         *string         `json:"value"`
	MultiValue    []string        `json:"multiValue"`
	IntValue      json.RawMessage `json:"intValue"`
	MultiIntValue []json.Number   `json:"multiIntValue"`
	BoolValue     *bool           `json:"boolValue"`
}

// text is the parameter's value as the history shows it.
func (p parameter) text() string {
	switch {
	case p.Value != nil:
		return *p.Value
	case len(p.MultiValue) > 0:
		return strings.Join(p.MultiValue, ",")
	case len(p.IntValue) > 0:
		return strings.Trim(string(p.IntValue), `"`)
	case len(p.MultiIntValue) > 0:
		s := make([]string, len(p.MultiIntValue))
		for i, n := range p.MultiIntValue {
			s[i] = n.String()
		}
		return strings.Join(s, ",")
	case p.BoolValue != nil:
		return strconv.FormatBool(*p.BoolValue)
	}
	return ""
}

// maxEvents bounds the events one activity may carry; Google's carry a handful, and the
// bound keeps one forged-but-authenticated body from flooding the history.
const maxEvents = 1000

// Parse decodes one notification body into history events, one per event of the activity.
// Each event's ID is the activity's application, time and unique qualifier plus the
// event's index, so the same activity delivered twice (a retry, or two overlapping
// channels) yields the same IDs. Any error is of code EINVALID.
func Parse(body []byte) ([]greep.Event, error) {
	var a activityJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&a); err != nil {
		return nil, invalid("malformed activity JSON: %v", err)
	}
	if dec.More() {
		return nil, invalid("malformed activity JSON: data after the activity")
	}
	if a.Kind != "" && a.Kind != Kind {
		return nil, invalid("kind %q is not %s", a.Kind, Kind)
	}
	if a.ID == nil {
		return nil, invalid("activity has no id")
	}
	at, err := time.Parse(time.RFC3339Nano, a.ID.Time)
	if err != nil {
		return nil, invalid("activity id.time %q is not an RFC 3339 time", a.ID.Time)
	}
	uq, err := uniqueQualifier(a.ID.UniqueQualifier)
	if err != nil {
		return nil, err
	}
	app := strings.ToLower(strings.TrimSpace(a.ID.ApplicationName))
	if app == "" {
		return nil, invalid("activity has no id.applicationName")
	}
	if len(a.Events) == 0 {
		return nil, invalid("activity has no events")
	}
	if len(a.Events) > maxEvents {
		return nil, invalid("activity has %d events, more than %d", len(a.Events), maxEvents)
	}
	actor := firstNonEmpty(a.Actor.Email, a.Actor.Key, a.Actor.ProfileID, a.Actor.CallerType)
	prefix := app + ":" + at.UTC().Format(time.RFC3339Nano) + ":" + uq + ":"
	events := make([]greep.Event, 0, len(a.Events))
	for i, e := range a.Events {
		if strings.TrimSpace(e.Name) == "" {
			return nil, invalid("activity event %d has no name", i)
		}
		params := make(map[string]string, len(e.Parameters))
		for _, p := range e.Parameters {
			// The admin application spells parameters GROUP_EMAIL, the groups application
			// group_email: one spelling keeps the mapping below in one place.
			params[strings.ToUpper(p.Name)] = p.text()
		}
		events = append(events, greep.Event{
			ID:          prefix + strconv.Itoa(i),
			Time:        at.UTC(),
			Application: app,
			Actor:       actor,
			Event:       e.Name,
			Group:       email(params["GROUP_EMAIL"]),
			Member:      email(firstNonEmpty(params["USER_EMAIL"], params["MEMBER_EMAIL"])),
			// The groups application names the setting acl_permission and gives its values
			// as old_value_repeated and new_value_repeated.
			Setting:  firstNonEmpty(params["SETTING_NAME"], params["ACL_PERMISSION"]),
			OldValue: firstNonEmpty(params["OLD_VALUE"], params["OLD_VALUE_REPEATED"]),
			NewValue: firstNonEmpty(params["NEW_VALUE"], params["NEW_VALUE_REPEATED"], params["USER_NICKNAME"]),
		})
	}
	return events, nil
}

// uniqueQualifier accepts the int64 Google sends, string-encoded (as its discovery document
// says) or bare.
func uniqueQualifier(raw json.RawMessage) (string, error) {
	s := strings.Trim(string(raw), `"`)
	if s == "" || s == "null" {
		return "", invalid("activity has no id.uniqueQualifier")
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return "", invalid("activity id.uniqueQualifier %q is not an integer", s)
	}
	return s, nil
}

func email(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func invalid(format string, args ...any) error {
	return greep.Errorf(greep.EINVALID, "%s", fmt.Sprintf(format, args...))
}
