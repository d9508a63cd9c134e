package provisional

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/rules"
)

// FuzzPlan feeds Plan the events of arbitrary activity JSON, applied to a group twice
// (the second time as a redelivery): it must not panic, must keep one entry per member,
// must apply nothing older than the last read, and a redelivery must apply nothing.
func FuzzPlan(f *testing.F) {
	body := func(at, name, member, value string) []byte {
		return []byte(`{"kind":"admin#reports#activity","id":{"time":"` + at + `","uniqueQualifier":"1","applicationName":"admin"},
		 "actor":{"email":"root@example.com"},"events":[{"name":"` + name + `","parameters":[
		 {"name":"GROUP_EMAIL","value":"eng@example.com"},{"name":"USER_EMAIL","value":"` + member + `"},
		 {"name":"NEW_VALUE","value":"` + value + `"}]}]}`)
	}
	f.Add(body("2026-12-03T09:00:10Z", "ADD_GROUP_MEMBER", "bob@example.com", ""))
	f.Add(body("2026-12-03T09:00:10Z", "REMOVE_GROUP_MEMBER", "alice@example.com", ""))
	f.Add(body("2026-12-03T09:00:10Z", "UPDATE_GROUP_MEMBER", "alice@example.com", "OWNER"))
	f.Add(body("2026-12-03T08:00:00Z", "REMOVE_GROUP_MEMBER", "alice@example.com", ""))
	f.Add(body("2026-12-03T09:00:10Z", "UPDATE_GROUP_MEMBER", "ALICE@example.com ", "owner"))
	f.Add(body("2026-12-03T09:00:10Z", "add_user", "carol", ""))
	f.Add([]byte(`[{"kind":"admin#reports#activity"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := activity.Parse(b)
		if err != nil {
			return
		}
		in := Input{Group: group, Members: []greep.Member{alice, bob}, Events: events, Now: at(100),
			Known: map[string]greep.Member{"carol@example.com": {ID: "u-carol", Email: "carol@example.com", Type: greep.TypeUser}}}
		res := Plan(in)
		seen := map[string]bool{}
		for _, m := range res.Members {
			if seen[fold(m.Email)] {
				t.Fatalf("member %s twice: %+v", m.Email, res.Members)
			}
			seen[fold(m.Email)] = true
		}
		for _, m := range res.Applied {
			if !m.EventTime.After(group.MembersSyncedAt) {
				t.Fatalf("applied %+v older than the last read %v", m, group.MembersSyncedAt)
			}
		}
		in.Members, in.Marks, in.Now = res.Members, res.Marks, in.Now.Add(time.Minute)
		if again := Plan(in); len(again.Applied) != 0 || again.Changed {
			t.Fatalf("a redelivery applied %+v", again.Applied)
		}
	})
}

// FuzzPlanSettings feeds PlanSettings the events of arbitrary activity JSON, twice (the
// second time as a redelivery): it must not panic, must keep one mark per field, must
// apply nothing not after the last read nor any value the field does not take, and a
// redelivery must apply nothing.
func FuzzPlanSettings(f *testing.F) {
	body := func(at, name, field, value string) []byte {
		return []byte(`{"kind":"admin#reports#activity","id":{"time":"` + at + `","uniqueQualifier":"1","applicationName":"admin"},
		 "actor":{"email":"root@example.com"},"events":[{"name":"` + name + `","parameters":[
		 {"name":"GROUP_EMAIL","value":"eng@example.com"},{"name":"SETTING_NAME","value":"` + field + `"},
		 {"name":"NEW_VALUE","value":"` + value + `"}]}]}`)
	}
	f.Add(body("2026-12-03T09:00:10Z", "CHANGE_GROUP_SETTING", "whoCanJoin", "ANYONE_CAN_JOIN"))
	f.Add(body("2026-12-03T08:00:00Z", "CHANGE_GROUP_SETTING", "whoCanJoin", "ANYONE_CAN_JOIN"))
	f.Add(body("2026-12-03T09:00:10Z", "CHANGE_GROUP_SETTING", "allowExternalMembers", "maybe"))
	f.Add(body("2026-12-03T09:00:10Z", "CHANGE_GROUP_SETTING", "whoCanHack", "true"))
	f.Add(body("2026-12-03T09:00:10Z", "change_acl_permission", "can_view_members", "true"))
	f.Add([]byte(`{"kind":"admin#reports#activity","id":{"time":"2026-12-03T09:00:10Z","uniqueQualifier":"1","applicationName":"admin"},
	 "events":[{"name":"CHANGE_GROUP_SETTING","parameters":[{"name":"SETTING_NAME","value":"whoCanJoin"},{"name":"NEW_VALUE","value":"ANYONE_CAN_JOIN"}]},
	 {"name":"CHANGE_GROUP_SETTING","parameters":[{"name":"SETTING_NAME","value":"whoCanJoin"},{"name":"NEW_VALUE","value":"INVITED_CAN_JOIN"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := activity.Parse(b)
		if err != nil {
			return
		}
		in := SettingsInput{ReadAt: group.MembersSyncedAt, Events: events, Now: at(100)}
		res := PlanSettings(in)
		seen := map[string]bool{}
		for _, m := range res.Marks.Fields {
			if seen[m.Field] {
				t.Fatalf("field %s twice: %+v", m.Field, res.Marks.Fields)
			}
			seen[m.Field] = true
			if !m.EventTime.After(in.ReadAt) || rules.CheckValue(m.Field, m.Value) != nil {
				t.Fatalf("applied %+v: older than the read %v or not a value of its field", m, in.ReadAt)
			}
		}
		in.Marks, in.Now = res.Marks, in.Now.Add(time.Minute)
		if again := PlanSettings(in); len(again.Applied) != 0 {
			t.Fatalf("a redelivery applied %+v", again.Applied)
		}
	})
}
