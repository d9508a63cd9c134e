package activity

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// addMember is an activity as the Reports API pushes it for a member added in the Admin
// console (the shape of the documented example).
const addMember = `{
 "kind": "admin#reports#activity",
 "id": {"time": "2026-11-22T10:00:00.123Z", "uniqueQualifier": "-4412876317843726881", "applicationName": "admin", "customerId": "C0123"},
 "etag": "\"abc\"",
 "actor": {"callerType": "USER", "email": "Admin@Example.com", "profileId": "1007"},
 "ipAddress": "192.0.2.1",
 "events": [{
   "type": "GROUP_SETTINGS",
   "name": "ADD_GROUP_MEMBER",
   "parameters": [
     {"name": "USER_EMAIL", "value": "Alice@Example.com"},
     {"name": "GROUP_EMAIL", "value": "Eng@Example.com"}
   ]
 }]
}`

func TestParseAddMember(t *testing.T) {
	events, err := Parse([]byte(addMember))
	if err != nil {
		t.Fatal(err)
	}
	want := []greep.Event{{
		ID:          "admin:2026-11-22T10:00:00.123Z:-4412876317843726881:0",
		Time:        time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC),
		Application: "admin",
		Actor:       "Admin@Example.com",
		Event:       "ADD_GROUP_MEMBER",
		Group:       "eng@example.com",
		Member:      "alice@example.com",
	}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", events, want)
	}
}

func TestParseSettingChangeAndIDs(t *testing.T) {
	body := `{"id":{"time":"2026-11-22T10:00:00+09:00","uniqueQualifier":42,"applicationName":"admin"},
	  "actor":{"email":"sec@example.com"},
	  "events":[
	    {"name":"CHANGE_GROUP_SETTING","parameters":[
	      {"name":"SETTING_NAME","value":"WHO_CAN_VIEW_GROUP"},
	      {"name":"OLD_VALUE","value":"ALL_MEMBERS_CAN_VIEW"},
	      {"name":"NEW_VALUE","value":"ANYONE_CAN_VIEW"},
	      {"name":"GROUP_EMAIL","value":"eng@example.com"}]},
	    {"name":"UPDATE_GROUP_MEMBER_DELIVERY_SETTINGS","parameters":[
	      {"name":"GROUP_EMAIL","value":"eng@example.com"},
	      {"name":"USER_EMAIL","multiValue":["bob@example.com"]}]}]}`
	events, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	e := events[0]
	if e.Setting != "WHO_CAN_VIEW_GROUP" || e.OldValue != "ALL_MEMBERS_CAN_VIEW" || e.NewValue != "ANYONE_CAN_VIEW" {
		t.Errorf("setting change parsed as %+v", e)
	}
	// Times are kept in UTC so the same instant always makes the same ID.
	if want := "admin:2026-11-22T01:00:00Z:42:0"; e.ID != want {
		t.Errorf("ID = %q, want %q", e.ID, want)
	}
	if events[1].ID == e.ID {
		t.Errorf("two events of one activity share ID %q", e.ID)
	}
	if events[1].Member != "bob@example.com" {
		t.Errorf("multiValue member = %q", events[1].Member)
	}
}

func TestParseGroupsApplication(t *testing.T) {
	body := `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"7","applicationName":"groups"},
	  "actor":{"email":"owner@example.com"},
	  "events":[{"type":"moderator_action","name":"add_user","parameters":[
	    {"name":"group_email","value":"eng@example.com"},{"name":"user_email","value":"carol@example.com"}]}]}`
	events, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if g, m := events[0].Group, events[0].Member; g != "eng@example.com" || m != "carol@example.com" {
		t.Errorf("group, member = %q, %q", g, m)
	}
	w := Plan(events)
	if len(w.Refresh) != 1 || len(w.Refresh[0].Expect) != 1 || !w.Refresh[0].Expect[0].Present {
		t.Errorf("groups-application add_user planned as %+v", w)
	}
}

func TestParseRejects(t *testing.T) {
	for name, body := range map[string]string{
		"empty":              ``,
		"not json":           `not json`,
		"truncated":          addMember[:len(addMember)/2],
		"array":              `[]`,
		"trailing data":      addMember + `{}`,
		"wrong kind":         strings.Replace(addMember, "admin#reports#activity", "admin#directory#group", 1),
		"no id":              `{"events":[{"name":"ADD_GROUP_MEMBER"}]}`,
		"bad time":           strings.Replace(addMember, "2026-11-22T10:00:00.123Z", "yesterday", 1),
		"no qualifier":       `{"id":{"time":"2026-11-22T10:00:00Z","applicationName":"admin"},"events":[{"name":"X"}]}`,
		"bad qualifier":      strings.Replace(addMember, "-4412876317843726881", "abc", 1),
		"no application":     `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"1"},"events":[{"name":"X"}]}`,
		"no events":          `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"1","applicationName":"admin"},"events":[]}`,
		"unnamed event":      `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"1","applicationName":"admin"},"events":[{"name":" "}]}`,
		"events not a list":  `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"1","applicationName":"admin"},"events":{}}`,
		"value not a string": strings.Replace(addMember, `"value": "Alice@Example.com"`, `"value": 5`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			events, err := Parse([]byte(body))
			if !errors.Is(err, greep.ErrInvalid) {
				t.Fatalf("Parse = %v, %v; want an EINVALID error", events, err)
			}
		})
	}
}

func TestParseTooManyEvents(t *testing.T) {
	evs := strings.Repeat(`{"name":"X"},`, maxEvents) + `{"name":"X"}`
	body := `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"1","applicationName":"admin"},"events":[` + evs + `]}`
	if _, err := Parse([]byte(body)); !errors.Is(err, greep.ErrInvalid) {
		t.Fatalf("Parse of %d events = %v, want EINVALID", maxEvents+1, err)
	}
}

func ev(name, group, member string) greep.Event {
	return greep.Event{Event: name, Group: group, Member: member}
}

func TestPlan(t *testing.T) {
	events := []greep.Event{
		ev("ADD_GROUP_MEMBER", "a@x", "u1@x"),
		ev("ADD_GROUP_MEMBER", "b@x", "u1@x"),
		ev("REMOVE_GROUP_MEMBER", "a@x", "u1@x"), // the last event on a member wins
		{Event: "UPDATE_GROUP_MEMBER", Group: "a@x", Member: "u2@x", OldValue: "MEMBER", NewValue: "owner"},
		ev("CHANGE_GROUP_SETTING", "a@x", ""),
		ev("CHANGE_GROUP_SETTING", "a@x", ""),
		ev("CHANGE_GROUP_NAME", "c@x", ""),
		ev("UPDATE_GROUP_MEMBER_DELIVERY_SETTINGS", "d@x", "u3@x"), // history only
		ev("ADD_GROUP_MEMBER", "", "u1@x"),                         // no group: nothing to do
		{Event: "CHANGE_GROUP_EMAIL", Group: "old@x", NewValue: "New@x"},
	}
	got := Plan(events)
	want := Work{
		Refresh: []Refresh{
			{Group: "a@x", Reason: "ADD_GROUP_MEMBER", Expect: []tasks.Expectation{
				{Member: "u1@x", Present: false},
				{Member: "u2@x", Present: true, Role: "OWNER"},
			}},
			{Group: "b@x", Reason: "ADD_GROUP_MEMBER", Expect: []tasks.Expectation{{Member: "u1@x", Present: true}}},
			{Group: "c@x", Reason: "CHANGE_GROUP_NAME"},
			{Group: "new@x", Reason: "CHANGE_GROUP_EMAIL"},
		},
		Settings: []SettingsRead{{Group: "a@x", Reason: "CHANGE_GROUP_SETTING"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Plan:\n got %+v\nwant %+v", got, want)
	}
}

// FuzzParse checks that no body makes Parse panic, that what it accepts is usable (every
// event has an ID and a time, IDs are unique within the activity, group emails are
// lower-case), that parsing is deterministic, and that Plan only names groups the events
// named. `go test` runs the seeds below and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	seeds := []string{
		addMember,
		`{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":1,"applicationName":"groups"},"events":[{"name":"add_user","parameters":[{"name":"group_email","value":"G@x"},{"name":"user_email","value":"u@x"}]}]}`,
		`{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"2","applicationName":"admin"},"events":[{"name":"CHANGE_GROUP_SETTING","parameters":[{"name":"GROUP_EMAIL","value":"g@x"},{"name":"SETTING_NAME","value":"S"},{"name":"NEW_VALUE","boolValue":true},{"name":"OLD_VALUE","intValue":"3"}]}]}`,
		`{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"3","applicationName":"admin"},"events":[{"name":"CHANGE_GROUP_EMAIL","parameters":[{"name":"GROUP_EMAIL","value":"a@x"},{"name":"NEW_VALUE","value":"b@x"}]}]}`,
		`{"id":null}`, `{}`, `null`, `""`, `{"events":[null]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := Parse(body)
		if err != nil {
			if !errors.Is(err, greep.ErrInvalid) {
				t.Fatalf("Parse error %v is not EINVALID", err)
			}
			if events != nil {
				t.Fatalf("Parse returned events with an error")
			}
			return
		}
		if len(events) == 0 {
			t.Fatalf("Parse accepted an activity without events")
		}
		ids := map[string]bool{}
		groups := map[string]bool{}
		for _, e := range events {
			if e.ID == "" || e.Time.IsZero() || e.Event == "" || e.Application == "" {
				t.Fatalf("incomplete event %+v", e)
			}
			if ids[e.ID] {
				t.Fatalf("duplicate event ID %q", e.ID)
			}
			ids[e.ID] = true
			if e.Group != strings.ToLower(e.Group) {
				t.Fatalf("group %q is not lower-case", e.Group)
			}
			groups[e.Group] = true
			groups[strings.ToLower(strings.TrimSpace(e.NewValue))] = true
		}
		again, err := Parse(body)
		if err != nil || !reflect.DeepEqual(events, again) {
			t.Fatalf("Parse is not deterministic: %v", err)
		}
		w := Plan(events)
		for _, r := range w.Refresh {
			if !groups[r.Group] {
				t.Fatalf("Plan refreshes %q, which no event named", r.Group)
			}
		}
		for _, s := range w.Settings {
			if !groups[s.Group] {
				t.Fatalf("Plan reads settings of %q, which no event named", s.Group)
			}
		}
	})
}
