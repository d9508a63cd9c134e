package workspacesim

import (
	"strings"
	"testing"
)

// base is a valid combination to start each case from.
func base() settingValues {
	v := defaultSettings()
	v.set("whoCanViewGroup", "ALL_MEMBERS_CAN_VIEW")
	v.set("whoCanDiscoverGroup", "ALL_IN_DOMAIN_CAN_DISCOVER")
	v.set("whoCanViewMembership", "ALL_MEMBERS_CAN_VIEW")
	return v
}

func TestApplySettings(t *testing.T) {
	for _, c := range []struct {
		name    string
		changes map[string]any
		wantErr string            // "" for success
		want    map[string]string // checked on success
	}{
		{"boolean", map[string]any{"allowExternalMembers": "true"}, "", map[string]string{"allowExternalMembers": "true"}},
		{"boolean spelled otherwise", map[string]any{"allowExternalMembers": "TRUE"}, "allowExternalMembers", nil},
		{"number for a string", map[string]any{"whoCanJoin": 1.0}, "string is expected", nil},
		{"unknown field", map[string]any{"whoCanTeleport": "ALL"}, "Unknown name", nil},
		{"deprecated field ignored", map[string]any{"whoCanInvite": "ALL_MANAGERS_CAN_INVITE", "maxMessageBytes": 5.0}, "", nil},
		{"output-only ignored", map[string]any{"kind": "x", "customRolesEnabledForSettingsToBeMerged": "true"}, "", nil},
		{"own email is fine", map[string]any{"email": "G@example.com"}, "", nil},
		{"other email refused", map[string]any{"email": "h@example.com"}, "email", nil},
		{"membership wider than view", map[string]any{"whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW"}, "whoCanViewGroup", nil},
		{"membership and view widened together",
			map[string]any{"whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW", "whoCanViewGroup": "ANYONE_CAN_VIEW"}, "",
			map[string]string{"whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW"}},
		{"membership wider than discovery",
			map[string]any{"whoCanDiscoverGroup": "ALL_MEMBERS_CAN_DISCOVER", "whoCanViewGroup": "ANYONE_CAN_VIEW", "whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW"},
			"whoCanDiscoverGroup", nil},
		{"archive only brings NONE_CAN_POST", map[string]any{"archiveOnly": "true"}, "", map[string]string{"whoCanPostMessage": "NONE_CAN_POST"}},
		{"archive only with posting", map[string]any{"archiveOnly": "true", "whoCanPostMessage": "ANYONE_CAN_POST"}, "archive-only", nil},
		{"NONE_CAN_POST on a live group", map[string]any{"whoCanPostMessage": "NONE_CAN_POST"}, "archiveOnly", nil},
		{"custom reply-to", map[string]any{"replyTo": "REPLY_TO_CUSTOM", "customReplyTo": "desk@example.com"}, "", nil},
		{"custom reply-to missing", map[string]any{"replyTo": "REPLY_TO_CUSTOM"}, "customReplyTo", nil},
		{"custom reply-to not an address", map[string]any{"replyTo": "REPLY_TO_CUSTOM", "customReplyTo": "desk"}, "not an email", nil},
		{"footer without text", map[string]any{"includeCustomFooter": "true"}, "customFooterText", nil},
		{"footer too long", map[string]any{"customFooterText": strings.Repeat("f", 1001)}, "1000", nil},
		{"name", map[string]any{"name": "Ops"}, "", nil},
		{"empty name", map[string]any{"name": ""}, "name", nil},
		{"description too long", map[string]any{"description": strings.Repeat("d", 4097)}, "description", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := applySettings(base(), "g@example.com", c.changes)
			if c.wantErr != "" {
				if err == nil || err.Code != 400 || !strings.Contains(err.Message, c.wantErr) {
					t.Fatalf("got %v, want a 400 about %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.want {
				if got := p.values.get(k); got != v {
					t.Errorf("%s = %s, want %s", k, got, v)
				}
			}
		})
	}
}

func TestEveryEnumValueIsAcceptedWhereTheRulesAllow(t *testing.T) {
	for _, f := range fields {
		for _, v := range f.values {
			changes := map[string]any{f.name: v}
			// Open the group up so that no combination rule gets in the way.
			switch f.name {
			case "whoCanViewMembership":
				changes["whoCanViewGroup"] = "ANYONE_CAN_VIEW"
				changes["whoCanDiscoverGroup"] = "ANYONE_CAN_DISCOVER"
			case "whoCanViewGroup", "whoCanDiscoverGroup":
				changes["whoCanViewMembership"] = "ALL_OWNERS_CAN_VIEW"
			case "whoCanPostMessage":
				if v == "NONE_CAN_POST" {
					changes["archiveOnly"] = "true"
				}
			case "replyTo":
				changes["customReplyTo"] = "desk@example.com"
			}
			if _, err := applySettings(base(), "g@example.com", changes); err != nil {
				t.Errorf("%s=%s: %v", f.name, v, err)
			}
		}
		if f.kind == kindEnum {
			if _, err := applySettings(base(), "g@example.com", map[string]any{f.name: "NOT_A_VALUE"}); err == nil {
				t.Errorf("%s accepted a value outside its enum", f.name)
			}
		}
	}
}
