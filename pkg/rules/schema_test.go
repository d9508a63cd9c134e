package rules

import (
	"maps"
	"testing"
)

func TestPlanKeepsTheCombinationValid(t *testing.T) {
	for _, tc := range []struct {
		name    string
		current map[string]string
		want    map[string]string
		patch   map[string]string
	}{{
		name:    "narrowing the group narrows who sees its members",
		current: map[string]string{"whoCanViewGroup": "ALL_IN_DOMAIN_CAN_VIEW", "whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW", "whoCanDiscoverGroup": "ALL_IN_DOMAIN_CAN_DISCOVER"},
		want:    map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"},
		patch:   map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW", "whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW"},
	}, {
		name:    "hiding the group narrows who sees its members",
		current: map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW", "whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW", "whoCanDiscoverGroup": "ANYONE_CAN_DISCOVER"},
		want:    map[string]string{"whoCanDiscoverGroup": "ALL_MEMBERS_CAN_DISCOVER"},
		patch:   map[string]string{"whoCanDiscoverGroup": "ALL_MEMBERS_CAN_DISCOVER", "whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW"},
	}, {
		name:    "already narrow enough: nothing added",
		current: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW", "whoCanViewMembership": "ALL_MANAGERS_CAN_VIEW", "whoCanDiscoverGroup": "ALL_IN_DOMAIN_CAN_DISCOVER"},
		want:    map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"},
		patch:   map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"},
	}, {
		name:    "a wanted membership value broader than the group allows is narrowed",
		current: map[string]string{"whoCanViewGroup": "ALL_MANAGERS_CAN_VIEW", "whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW", "whoCanDiscoverGroup": "ALL_MEMBERS_CAN_DISCOVER"},
		want:    map[string]string{"whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW"},
		patch:   map[string]string{"whoCanViewMembership": "ALL_MANAGERS_CAN_VIEW"},
	}, {
		name:    "no posting needs an archive-only group",
		current: map[string]string{"whoCanPostMessage": "ANYONE_CAN_POST", "archiveOnly": "false"},
		want:    map[string]string{"whoCanPostMessage": "NONE_CAN_POST"},
		patch:   map[string]string{"whoCanPostMessage": "NONE_CAN_POST", "archiveOnly": "true"},
	}, {
		name:    "leaving archive-only reopens posting to managers",
		current: map[string]string{"whoCanPostMessage": "NONE_CAN_POST", "archiveOnly": "true"},
		want:    map[string]string{"archiveOnly": "false"},
		patch:   map[string]string{"archiveOnly": "false", "whoCanPostMessage": "ALL_MANAGERS_CAN_POST"},
	}, {
		name:    "a rule on posting takes an archive-only group out of archive",
		current: map[string]string{"whoCanPostMessage": "NONE_CAN_POST", "archiveOnly": "true"},
		want:    map[string]string{"whoCanPostMessage": "ALL_MEMBERS_CAN_POST"},
		patch:   map[string]string{"whoCanPostMessage": "ALL_MEMBERS_CAN_POST", "archiveOnly": "false"},
	}, {
		name:    "archiving stops posting",
		current: map[string]string{"whoCanPostMessage": "ANYONE_CAN_POST", "archiveOnly": "false"},
		want:    map[string]string{"archiveOnly": "true"},
		patch:   map[string]string{"archiveOnly": "true", "whoCanPostMessage": "NONE_CAN_POST"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			patch, why, err := Plan(tc.current, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(patch, tc.patch) {
				t.Fatalf("patch = %v, want %v", patch, tc.patch)
			}
			for k := range patch {
				if _, wanted := tc.want[k]; !wanted && why[k] == "" {
					t.Errorf("%s added without a reason", k)
				}
			}
			after := maps.Clone(tc.current)
			maps.Copy(after, patch)
			if err := Valid(after); err != nil {
				t.Errorf("settings after the patch are invalid: %v", err)
			}
		})
	}
}

func TestPlanRefusesUnknownValues(t *testing.T) {
	if _, _, err := Plan(nil, map[string]string{"whoCanViewGroup": "EVERYONE"}); err == nil {
		t.Fatal("want an error")
	}
	if _, _, err := Plan(nil, map[string]string{"colour": "blue"}); err == nil {
		t.Fatal("want an error")
	}
	if _, _, err := Plan(map[string]string{"replyTo": "REPLY_TO_LIST"}, map[string]string{"replyTo": "REPLY_TO_CUSTOM"}); err == nil {
		t.Fatal("REPLY_TO_CUSTOM without an address: want an error")
	}
	if _, _, err := Plan(map[string]string{"customReplyTo": "a@x.com"}, map[string]string{"replyTo": "REPLY_TO_CUSTOM"}); err != nil {
		t.Fatalf("REPLY_TO_CUSTOM with an address: %v", err)
	}
}

func TestEveryAudienceValueIsInTheEnum(t *testing.T) {
	for field, values := range audience {
		for v := range values {
			if err := CheckValue(field, v); err != nil {
				t.Error(err)
			}
		}
		if len(values) != len(Fields[field].Values) {
			t.Errorf("%s: %d values ranked, %d in the enum", field, len(values), len(Fields[field].Values))
		}
	}
}
