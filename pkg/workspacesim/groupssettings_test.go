package workspacesim_test

import (
	"strings"
	"testing"

	"google.golang.org/api/groupssettings/v1"

	"github.com/greephq/greep/pkg/workspacesim"
)

func TestSettingsGetPatchAndActivity(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 20, Groups: 20, Seed: 8})
	g := truth(t, srv, "").Groups[0]

	got, err := cl.Settings.Groups.Get(g.Email).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != g.Email || got.Name != g.Name || got.Kind != "groupsSettings#groups" ||
		got.WhoCanViewGroup != g.Settings["whoCanViewGroup"] || got.AllowExternalMembers != g.Settings["allowExternalMembers"] {
		t.Fatalf("get: %+v, truth %v", got, g.Settings)
	}

	// A valid patch: the answer and a later GET carry it, the truth too, and each changed
	// field is a CHANGE_GROUP_SETTING activity by the caller.
	target := "ALL_OWNERS_CAN_VIEW"
	if g.Settings["whoCanViewMembership"] == target {
		target = "ALL_MANAGERS_CAN_VIEW"
	}
	patched, err := cl.Settings.Groups.Patch(g.Email, &groupssettings.Groups{WhoCanViewMembership: target, AllowExternalMembers: "true"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if patched.WhoCanViewMembership != target {
		t.Fatalf("patch answer: %s", patched.WhoCanViewMembership)
	}
	if again, _ := cl.Settings.Groups.Get(g.Email).Do(); again.WhoCanViewMembership != target || again.WhoCanJoin != g.Settings["whoCanJoin"] {
		t.Fatalf("get after patch: %+v", again)
	}
	if tg := truth(t, srv, g.Email).Groups[0]; tg.Settings["whoCanViewMembership"] != target || tg.ETag != g.ETag {
		t.Fatalf("truth after patch: %v, etag %s", tg.Settings, tg.ETag)
	}
	acts, err := cl.Reports.Activities.List("all", "admin").EventName("CHANGE_GROUP_SETTING").Do()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range acts.Items {
		p := params(a.Events[0].Parameters)
		if p["SETTING_NAME"] == "whoCanViewMembership" && p["GROUP_EMAIL"] == g.Email &&
			p["OLD_VALUE"] == g.Settings["whoCanViewMembership"] && p["NEW_VALUE"] == target {
			found = true
			if a.Actor.Email != srv.Sim.Admin() {
				t.Fatalf("actor %s, want the caller %s", a.Actor.Email, srv.Sim.Admin())
			}
		}
	}
	if !found || len(acts.Items) > 2 {
		t.Fatalf("activities %d, whoCanViewMembership change found %v", len(acts.Items), found)
	}

	// PUT (update) goes through the same validation.
	if _, err := cl.Settings.Groups.Update(g.Email, &groupssettings.Groups{WhoCanJoin: "INVITED_CAN_JOIN"}).Do(); err != nil {
		t.Fatal(err)
	}
	// A new name is the Directory group's name, and moves its etag.
	if _, err := cl.Settings.Groups.Patch(g.Email, &groupssettings.Groups{Name: "Renamed"}).Do(); err != nil {
		t.Fatal(err)
	}
	if dg, err := cl.Directory.Groups.Get(g.Email).Do(); err != nil || dg.Name != "Renamed" || dg.Etag == g.ETag {
		t.Fatalf("directory after a rename: %+v %v", dg, err)
	}
	_, err = cl.Settings.Groups.Get("missing@" + srv.Sim.Domain()).Do()
	apiErr(t, err, 404, "notFound")
}

func TestSettingsValidationErrorsLookLikeGoogles(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10, Seed: 1})
	g := truth(t, srv, "").Groups[0]
	before := truth(t, srv, g.Email).Groups[0]

	// Start from a known, valid place.
	if _, err := cl.Settings.Groups.Patch(g.Email, &groupssettings.Groups{
		WhoCanViewGroup: "ALL_MEMBERS_CAN_VIEW", WhoCanDiscoverGroup: "ALL_MEMBERS_CAN_DISCOVER",
		WhoCanViewMembership: "ALL_MEMBERS_CAN_VIEW", ArchiveOnly: "false", WhoCanPostMessage: "ALL_MEMBERS_CAN_POST",
	}).Do(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		patch groupssettings.Groups
		want  string
	}{
		{"unknown enum value", groupssettings.Groups{WhoCanJoin: "EVERYONE"}, "whoCanJoin"},
		{"boolean not true or false", groupssettings.Groups{AllowExternalMembers: "yes"}, "allowExternalMembers"},
		{"membership broader than the group's visibility", groupssettings.Groups{WhoCanViewMembership: "ALL_IN_DOMAIN_CAN_VIEW"}, "whoCanViewGroup"},
		{"membership broader than discovery",
			groupssettings.Groups{WhoCanViewGroup: "ALL_IN_DOMAIN_CAN_VIEW", WhoCanViewMembership: "ALL_IN_DOMAIN_CAN_VIEW"}, "whoCanDiscoverGroup"},
		{"nobody may post in a live group", groupssettings.Groups{WhoCanPostMessage: "NONE_CAN_POST"}, "archiveOnly"},
		{"custom reply-to without an address", groupssettings.Groups{ReplyTo: "REPLY_TO_CUSTOM"}, "customReplyTo"},
		{"footer text too long", groupssettings.Groups{CustomFooterText: strings.Repeat("x", 1001)}, "customFooterText"},
		{"name too long", groupssettings.Groups{Name: strings.Repeat("n", 61)}, "name"},
	} {
		_, err := cl.Settings.Groups.Patch(g.Email, &c.patch).Do()
		gerr := apiErr(t, err, 400, "invalid")
		if !strings.Contains(gerr.Message, c.want) || gerr.Errors[0].Message != gerr.Message {
			t.Fatalf("%s: %+v does not name %s", c.name, gerr, c.want)
		}
	}
	// Nothing refused was stored.
	after := truth(t, srv, g.Email).Groups[0]
	if after.Settings["whoCanJoin"] != before.Settings["whoCanJoin"] || after.Settings["allowExternalMembers"] != before.Settings["allowExternalMembers"] {
		t.Fatalf("a refused patch changed settings: %v", after.Settings)
	}

	// archiveOnly true brings NONE_CAN_POST with it, as on Google.
	got, err := cl.Settings.Groups.Patch(g.Email, &groupssettings.Groups{ArchiveOnly: "true"}).Do()
	if err != nil || got.WhoCanPostMessage != "NONE_CAN_POST" {
		t.Fatalf("archiveOnly: %+v %v", got, err)
	}
}

func TestSettingsRawBodiesAreChecked(t *testing.T) {
	srv, _ := start(t, workspacesim.Config{Users: 10, Groups: 10, Seed: 1})
	g := truth(t, srv, "").Groups[0]
	for _, c := range []struct{ body, reason, want string }{
		{`{"whoCanFly":"ALL"}`, "invalid", "Unknown name"},
		{`{"whoCanJoin":3}`, "invalid", "string is expected"},
		{`{"whoCanJoin":`, "parseError", "Invalid JSON"},
		{`[1,2]`, "parseError", "Invalid JSON"},
	} {
		err := rawPatch(t, srv.URL+"/groups/v1/groups/"+g.Email+"?alt=json", srv.Sim.Admin(), c.body)
		gerr := apiErr(t, err, 400, c.reason)
		if !strings.Contains(gerr.Message, c.want) {
			t.Fatalf("%s: %s", c.body, gerr.Message)
		}
	}
}
