package provisional

import (
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func setting(id, field, value string, at time.Time) greep.Event {
	return greep.Event{ID: id, Time: at, Event: "CHANGE_GROUP_SETTING", Group: group.Email, Setting: field, NewValue: value, Actor: "admin@example.com"}
}

func fields(ms SettingMarks) map[string]string {
	out := map[string]string{}
	for _, m := range ms.Fields {
		out[m.Field] = m.Value + "/" + m.ActivityID
	}
	return out
}

// TestPlanSettingsOutOfOrder: the last event on a field wins whichever notification
// brings it first, one at a time or together.
func TestPlanSettingsOutOfOrder(t *testing.T) {
	early := setting("s1", "whoCanJoin", "ANYONE_CAN_JOIN", at(10))
	late := setting("s2", "whoCanJoin", "INVITED_CAN_JOIN", at(20))
	other := setting("s3", "ALLOW_EXTERNAL_MEMBERS", "true", at(15)) // as Reports spells it

	first := PlanSettings(SettingsInput{ReadAt: t0, Events: []greep.Event{late}, Now: at(30)})
	second := PlanSettings(SettingsInput{ReadAt: t0, Marks: first.Marks, Events: []greep.Event{other, early}, Now: at(31)})
	if got := reasons(second.Skipped); !slices.Equal(got, []string{"s1:" + SkipSuperseded}) {
		t.Fatalf("the older event after the later one: skipped %v", got)
	}
	want := map[string]string{"whoCanJoin": "INVITED_CAN_JOIN/s2", "allowExternalMembers": "true/s3"}
	if got := fields(second.Marks); len(got) != 2 || got["whoCanJoin"] != want["whoCanJoin"] || got["allowExternalMembers"] != want["allowExternalMembers"] {
		t.Fatalf("marks %v, want %v", got, want)
	}
	together := PlanSettings(SettingsInput{ReadAt: t0, Events: []greep.Event{late, other, early}, Now: at(30)})
	if got := fields(together.Marks); got["whoCanJoin"] != want["whoCanJoin"] || len(together.Applied) != 3 {
		t.Fatalf("one notification: marks %v, applied %d (want the later value, all three applied in event order)", got, len(together.Applied))
	}
	if together.Marks.Fields[0].AcceptedAt != at(30) {
		t.Fatalf("accepted at %v, want the notification's time", together.Marks.Fields[0].AcceptedAt)
	}
	again := PlanSettings(SettingsInput{ReadAt: t0, Marks: together.Marks, Events: []greep.Event{late, other, early}, Now: at(99)})
	if len(again.Applied) != 0 {
		t.Fatalf("a redelivery applied %+v", again.Applied)
	}
}

// TestPlanSettingsOlderThanLastRead: an event from before the last settings read (or as
// old as it) never applies; a newer one does.
func TestPlanSettingsOlderThanLastRead(t *testing.T) {
	res := PlanSettings(SettingsInput{ReadAt: at(60), Events: []greep.Event{
		setting("s1", "whoCanJoin", "ANYONE_CAN_JOIN", at(30)),
		setting("s2", "allowExternalMembers", "true", at(60)),
		setting("s3", "whoCanViewGroup", "ANYONE_CAN_VIEW", at(61)),
	}, Now: at(90)})
	if got := reasons(res.Skipped); !slices.Equal(got, []string{"s1:" + SkipOlder, "s2:" + SkipOlder}) {
		t.Fatalf("skipped %v", got)
	}
	if got := fields(res.Marks); len(got) != 1 || got["whoCanViewGroup"] != "ANYONE_CAN_VIEW/s3" {
		t.Fatalf("marks %v: want the newer event only", got)
	}
}

// TestPlanSettingsBadInput: an unknown field, a value the field does not take, an event
// without time or id apply nothing, each with its reason.
func TestPlanSettingsBadInput(t *testing.T) {
	res := PlanSettings(SettingsInput{ReadAt: t0, Events: []greep.Event{
		setting("b1", "whoCanHack", "ANYONE", at(5)),
		setting("b2", "whoCanJoin", "EVERYBODY", at(5)),
		setting("b3", "whoCanJoin", "", at(5)),
		setting("b4", "whoCanJoin", "ANYONE_CAN_JOIN", time.Time{}),
		setting("", "whoCanJoin", "ANYONE_CAN_JOIN", at(5)),
		setting("b6", "", "ANYONE_CAN_JOIN", at(5)),
		setting("b7", "whoCanHideAbuse", "true", at(5)),        // deprecated, merged into another field
		ev("b8", "ADD_GROUP_MEMBER", "bob@example.com", at(5)), // not a settings event: ignored
	}, Now: at(9)})
	if len(res.Applied) != 0 || len(res.Marks.Fields) != 0 {
		t.Fatalf("applied %+v", res.Applied)
	}
	want := []string{"b1:" + SkipUnknownField, "b2:" + SkipMalformed, "b3:" + SkipMalformed, "b4:" + SkipMalformed,
		":" + SkipMalformed, "b6:" + SkipUnknownField, "b7:" + SkipUnknownField}
	got := reasons(res.Skipped)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("skipped %v, want %v", got, want)
	}
}

// TestSettleSettings: a read confirms the values it shows; one it does not show stays
// (lagging when accepted before the read began) until the last re-poll drops it.
func TestSettleSettings(t *testing.T) {
	marks := SettingMarks{Fields: []SettingMark{
		{Field: "whoCanJoin", Value: "INVITED_CAN_JOIN", ActivityID: "shown", AcceptedAt: at(10)},
		{Field: "allowExternalMembers", Value: "true", ActivityID: "lag", AcceptedAt: at(10)},
		{Field: "whoCanViewGroup", Value: "ANYONE_CAN_VIEW", ActivityID: "late", AcceptedAt: at(50)},
	}}
	read := greep.Settings{"whoCanJoin": "INVITED_CAN_JOIN", "allowExternalMembers": "false", "whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"}
	sids := func(ms []SettingMark) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ActivityID)
		}
		return out
	}
	s := SettleSettings(read, marks, at(40), false)
	if !slices.Equal(sids(s.Confirmed), []string{"shown"}) || !slices.Equal(sids(s.Kept), []string{"lag", "late"}) ||
		!slices.Equal(sids(s.Lagging), []string{"lag"}) || len(s.Dropped) != 0 {
		t.Fatalf("confirmed %v kept %v lagging %v dropped %v", sids(s.Confirmed), sids(s.Kept), sids(s.Lagging), sids(s.Dropped))
	}
	s = SettleSettings(read, marks, at(40), true)
	if !slices.Equal(sids(s.Dropped), []string{"lag"}) || !slices.Equal(sids(s.Kept), []string{"late"}) {
		t.Fatalf("last re-poll: dropped %v kept %v", sids(s.Dropped), sids(s.Kept))
	}
	s = SettleSettings(read, marks, at(50).Add(MaxAge+time.Second), false)
	if !slices.Equal(sids(s.Dropped), []string{"lag", "late"}) {
		t.Fatalf("after MaxAge: dropped %v", sids(s.Dropped))
	}
}

// TestOver: the marks are laid over the read, and over nothing when it never happened.
func TestOver(t *testing.T) {
	marks := SettingMarks{Fields: []SettingMark{
		{Field: "whoCanJoin", Value: "ANYONE_CAN_JOIN", EventTime: at(20), ActivityID: "new"},
		{Field: "allowExternalMembers", Value: "true", EventTime: at(20), ActivityID: "other"},
	}}
	gs := greep.GroupSettings{Settings: greep.Settings{"whoCanJoin": "INVITED_CAN_JOIN", "allowExternalMembers": "false", "archiveOnly": "false"}, ReadAt: at(10)}
	got, shown := marks.Over(gs)
	if got["whoCanJoin"] != "ANYONE_CAN_JOIN" || got["allowExternalMembers"] != "true" || got["archiveOnly"] != "false" || len(shown) != 2 {
		t.Fatalf("over: %v shown %+v", got, shown)
	}
	if gs.Settings["whoCanJoin"] != "INVITED_CAN_JOIN" {
		t.Fatal("Over changed the read it was given")
	}
	got, shown = marks.Over(greep.GroupSettings{})
	if len(got) != 2 || len(shown) != 2 {
		t.Fatalf("never read: %v shown %d, want both announced values", got, len(shown))
	}
	if got, shown := (SettingMarks{}).Over(greep.GroupSettings{}); got != nil || shown != nil {
		t.Fatalf("nothing read or announced: %v %v", got, shown)
	}
}
