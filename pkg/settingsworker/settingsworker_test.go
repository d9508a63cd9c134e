package settingsworker

import (
	"testing"

	"google.golang.org/api/groupssettings/v1"
)

func TestRunTravelsInTheReason(t *testing.T) {
	if got := RunOf(SweepReason("sweep-20261122T000000Z")); got != "sweep-20261122T000000Z" {
		t.Fatalf("RunOf = %q", got)
	}
	if got := RunOf("push: CHANGE_GROUP_SETTING"); got != "" {
		t.Fatalf("push reason gave run %q", got)
	}
}

func TestToGroupsRefusesWhatGreepDoesNotKnow(t *testing.T) {
	if _, err := ToGroups(map[string]string{"whoCanViewGroupp": "ALL_MEMBERS_CAN_VIEW"}); err == nil {
		t.Fatal("unknown field: want an error")
	}
	if _, err := ToGroups(map[string]string{"whoCanViewGroup": "MEMBERS"}); err == nil {
		t.Fatal("unknown value: want an error")
	}
	g, err := ToGroups(map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW", "default_sender": "GROUP", "archiveOnly": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if g.WhoCanViewGroup != "ALL_MEMBERS_CAN_VIEW" || g.DefaultSender != "GROUP" || g.ArchiveOnly != "false" {
		t.Fatalf("%+v", g)
	}
	s := ToSettings(&groupssettings.Groups{Kind: "groupsSettings#groups", Email: "g@x.com", WhoCanJoin: "INVITED_CAN_JOIN", MaxMessageBytes: 5})
	if len(s) != 1 || s["whoCanJoin"] != "INVITED_CAN_JOIN" {
		t.Fatalf("ToSettings = %v", s)
	}
}
