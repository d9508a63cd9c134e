package activity

import (
	"testing"
)

// User events (the admin application's USER_SETTINGS) ask for the user's re-read, once
// per user, by the new address after a rename; they refresh no group.
func TestPlanUserEvents(t *testing.T) {
	body := `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"9","applicationName":"admin"},"actor":{"email":"admin@x"},
	"events":[
	 {"type":"USER_SETTINGS","name":"SUSPEND_USER","parameters":[{"name":"USER_EMAIL","value":"Ann@x"}]},
	 {"type":"USER_SETTINGS","name":"ADD_NICKNAME","parameters":[{"name":"USER_EMAIL","value":"ann@x"},{"name":"USER_NICKNAME","value":"annie@x"}]},
	 {"type":"USER_SETTINGS","name":"RENAME_USER","parameters":[{"name":"USER_EMAIL","value":"bo@x"},{"name":"NEW_VALUE","value":"Bob@x"}]},
	 {"type":"USER_SETTINGS","name":"CHANGE_PASSWORD","parameters":[{"name":"USER_EMAIL","value":"cy@x"}]}]}`
	events, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if events[1].NewValue != "annie@x" {
		t.Errorf("ADD_NICKNAME's alias not in newValue: %+v", events[1])
	}
	w := Plan(events)
	if len(w.Refresh) != 0 || len(w.Settings) != 0 {
		t.Errorf("user events refresh groups: %+v", w)
	}
	want := []UserRead{{User: "ann@x", Reason: "SUSPEND_USER"}, {User: "bob@x", Reason: "RENAME_USER"}}
	if len(w.Users) != len(want) || w.Users[0] != want[0] || w.Users[1] != want[1] {
		t.Errorf("Users = %+v, want %+v", w.Users, want)
	}
}

// The groups application's settings event names its setting acl_permission and gives the
// values as old_value_repeated and new_value_repeated; history keeps them.
func TestParseGroupsApplicationSetting(t *testing.T) {
	body := `{"id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"10","applicationName":"groups"},"actor":{"email":"owner@x"},
	"events":[{"type":"acl_change","name":"change_acl_permission","parameters":[{"name":"group_email","value":"G@x"},
	 {"name":"acl_permission","value":"can_view_group"},{"name":"old_value_repeated","multiValue":["ALL_MEMBERS_CAN_VIEW"]},{"name":"new_value_repeated","multiValue":["ANYONE_CAN_VIEW"]}]}]}`
	events, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e := events[0]
	if e.Group != "g@x" || e.Setting != "can_view_group" || e.OldValue != "ALL_MEMBERS_CAN_VIEW" || e.NewValue != "ANYONE_CAN_VIEW" {
		t.Errorf("event %+v", e)
	}
	if w := Plan(events); len(w.Settings) != 1 || w.Settings[0].Group != "g@x" {
		t.Errorf("work %+v", w)
	}
}
