package rules

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func TestShippedExample(t *testing.T) {
	c, err := LoadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeDetect || c.RunCap != 25 || c.MaxPatchesPerDay != 3 || c.NotifyURL != "" {
		t.Errorf("knobs = %q %d %d %q", c.Mode, c.RunCap, c.MaxPatchesPerDay, c.NotifyURL)
	}
	if len(c.Exemptions) == 0 || c.Exemptions[0].Reason == "" || c.Exemptions[0].Until().IsZero() {
		t.Errorf("exemptions = %+v", c.Exemptions)
	}
	// The origin's rules.
	for _, v := range []string{"ANYONE_CAN_VIEW", "ALL_IN_DOMAIN_CAN_VIEW"} {
		res, err := c.Evaluate(Input{Group: "g@example.com", Settings: map[string]string{"whoCanViewGroup": v}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if res.Patch["whoCanViewGroup"] != "ALL_MEMBERS_CAN_VIEW" {
			t.Errorf("%s: patch %v", v, res.Patch)
		}
	}
	sentinel := []greep.Member{{Email: c.Secure.Sentinels[0], Type: greep.TypeUser}}
	res, _ := c.Evaluate(Input{Group: "s@example.com", Settings: map[string]string{"whoCanModerateMembers": "ALL_MEMBERS"}, Members: sentinel}, time.Now())
	if !res.Secure || res.Patch["whoCanModerateMembers"] != "OWNERS_AND_MANAGERS" {
		t.Errorf("secure group: %+v", res)
	}
	res, _ = c.Evaluate(Input{Group: "p@example.com", Settings: map[string]string{"whoCanModerateMembers": "ALL_MEMBERS"}}, time.Now())
	if res.Secure || res.Patch != nil || len(res.Violations) != 0 {
		t.Errorf("plain group got the secure rules: %+v", res)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "mode: detect\nrulez: []\n", "line 2"},
		{"unknown rule key", "rules:\n  - field: whoCanJoin\n    unsafe: [ANYONE_CAN_JOIN]\n    safe: INVITED_CAN_JOIN\n    sfae: x\n", "line 5"},
		{"unknown field", "mode: detect\nrules:\n  - field: whoCanJoin\n    unsafe: [ANYONE_CAN_JOIN]\n    safe: INVITED_CAN_JOIN\n  - field: whoCanSee\n    unsafe: [X]\n    safe: Y\n", "line 6: unknown Groups Settings field \"whoCanSee\""},
		{"unsafe not in enum", "rules:\n  - field: whoCanViewGroup\n    unsafe: [ANYONE_CAN_SEE]\n    safe: ALL_MEMBERS_CAN_VIEW\n", "line 2: \"ANYONE_CAN_SEE\" is not a value of whoCanViewGroup"},
		{"safe not in enum", "secure:\n  sentinels: [s@x.com]\n  rules:\n    - field: whoCanModerateMembers\n      unsafe: [ALL_MEMBERS]\n      safe: OWNERS\n", "line 4"},
		{"deprecated field", "rules:\n  - field: whoCanAdd\n    unsafe: [ALL_MEMBERS_CAN_ADD]\n    safe: NONE_CAN_ADD\n", "merged into whoCanModerateMembers"},
		{"safe listed unsafe", "rules:\n  - field: archiveOnly\n    unsafe: [\"false\"]\n    safe: \"false\"\n", "line 2"},
		{"bad mode", "\n\nmode: fix\n", "line 3: mode \"fix\""},
		{"duplicate field", "rules:\n  - field: whoCanJoin\n    unsafe: [ANYONE_CAN_JOIN]\n    safe: INVITED_CAN_JOIN\n  - field: whoCanJoin\n    unsafe: [ALL_IN_DOMAIN_CAN_JOIN]\n    safe: INVITED_CAN_JOIN\n", "line 5"},
		{"secure without sentinel", "secure:\n  rules:\n    - field: whoCanJoin\n      unsafe: [ANYONE_CAN_JOIN]\n      safe: INVITED_CAN_JOIN\n", "sentinel"},
		{"exemption without reason", "exemptions:\n  - group: a@x.com\n  - group: b@x.com\n", "line 2"},
		{"exemption without group", "exemptions:\n  - reason: r\n", "line 2: exemption group \"\" is neither"},
		{"exemption bad expiry", "exemptions:\n  - group: a@x.com\n    reason: r\n    expires: soon\n", "line 2"},
		{"secure safe unsafe in general", "rules:\n  - field: whoCanViewGroup\n    unsafe: [ANYONE_CAN_VIEW]\n    safe: ALL_MEMBERS_CAN_VIEW\nsecure:\n  sentinels: [s@x.com]\n  rules:\n    - field: whoCanViewGroup\n      unsafe: [ALL_IN_DOMAIN_CAN_VIEW]\n      safe: ANYONE_CAN_VIEW\n", "line 8"},
		{"safe needs text", "rules:\n  - field: replyTo\n    unsafe: [REPLY_TO_SENDER]\n    safe: REPLY_TO_CUSTOM\n", "line 2: replyTo=REPLY_TO_CUSTOM needs a customReplyTo"},
		{"syntax", "rules: [\n", "line"},
		{"empty", "", "empty"},
		// yaml.v3 drops an empty item from the slice; these once indexed past it and panicked.
		{"empty rule item", "rules:\n  -", "line 2: empty or malformed item under rules"},
		{"empty exemption item", "exemptions:\n  -", "line 2: empty or malformed item under exemptions"},
		{"empty secure rule item", "secure:\n  sentinels: [s@x.com]\n  rules:\n    - ~\n", "line 4: empty or malformed item under secure.rules"},
		{"empty item between rules", "rules:\n  - field: whoCanJoin\n    unsafe: [ANYONE_CAN_JOIN]\n    safe: INVITED_CAN_JOIN\n  -\n  - field: whoCanSee\n", "line 5: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExemptionExpiry(t *testing.T) {
	c := mustParse(t, `
rules:
  - field: whoCanJoin
    unsafe: [ANYONE_CAN_JOIN]
    safe: INVITED_CAN_JOIN
exemptions:
  - group: A@x.com
    reason: open community
    expires: 2026-03-31
`)
	in := Input{Group: "a@x.com", GroupID: "id-a", ExemptionIDs: map[string]string{"a@x.com": "id-a"},
		Settings: map[string]string{"whoCanJoin": "ANYONE_CAN_JOIN"}}
	res, _ := c.Evaluate(in, time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC))
	if res.Exemption == nil || res.Patch != nil || len(res.Violations) != 1 {
		t.Fatalf("on the last day: %+v", res)
	}
	res, _ = c.Evaluate(in, time.Date(2026, 4, 1, 0, 0, 1, 0, time.UTC))
	if res.Exemption != nil || res.Patch["whoCanJoin"] != "INVITED_CAN_JOIN" {
		t.Fatalf("after expiry: %+v", res)
	}
}

// Exemptions match the group's id: an exemption written with an email follows the group
// it was bound to through a rename, and does not pass to a new group that takes the old
// email. Matching by email, as before, dropped the exemption of a renamed group.
func TestExemptionFollowsTheGroupID(t *testing.T) {
	c := mustParse(t, `
exemptions:
  - group: Sales@x.com
    reason: shared with partners
  - group: 03x8tuzt1x7h4bm
    reason: named by id
`)
	now := time.Now()
	ids := map[string]string{"sales@x.com": "id-sales"}
	for _, tc := range []struct {
		name, id string
		want     string
	}{
		{"bound by email", "id-sales", "sales@x.com"},
		{"by id", "03x8tuzt1x7h4bm", "03x8tuzt1x7h4bm"},
		{"new group with the old email", "id-other", ""},
		{"no id", "", ""},
	} {
		e := c.ExemptionOf(tc.id, ids, now)
		if got := ""; e != nil {
			got = e.Group
			if got != tc.want {
				t.Errorf("%s: exemption of %s, want %q", tc.name, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("%s: not exempt, want the exemption of %s", tc.name, tc.want)
		}
	}
	// The renamed group, evaluated under its new email, is still exempt.
	res, err := c.Evaluate(Input{Group: "sales-emea@x.com", GroupID: "id-sales", ExemptionIDs: ids}, now)
	if err != nil || res.Exemption == nil {
		t.Fatalf("renamed group: exemption %v, %v", res.Exemption, err)
	}
	// Unbound, the email matches nothing: binding is remediation's job, through the cache.
	if e := c.ExemptionOf("id-sales", nil, now); e != nil {
		t.Errorf("unbound email matched %+v", e)
	}
}

func TestSecureRuleWinsOnSameField(t *testing.T) {
	c := mustParse(t, `
rules:
  - field: whoCanViewGroup
    unsafe: [ANYONE_CAN_VIEW]
    safe: ALL_MEMBERS_CAN_VIEW
secure:
  sentinels: [sentinel@x.com]
  rules:
    - field: whoCanViewGroup
      unsafe: [ANYONE_CAN_VIEW, ALL_IN_DOMAIN_CAN_VIEW, ALL_MEMBERS_CAN_VIEW]
      safe: ALL_MANAGERS_CAN_VIEW
`)
	members := []greep.Member{{Email: "Sentinel@x.com"}}
	res, err := c.Evaluate(Input{Group: "g@x.com", Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}, Members: members}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 2 || res.Patch["whoCanViewGroup"] != "ALL_MANAGERS_CAN_VIEW" {
		t.Fatalf("%+v", res)
	}
	for _, v := range res.Violations {
		if v.Safe != "ALL_MANAGERS_CAN_VIEW" {
			t.Errorf("violation %s safe = %s", v.Rule, v.Safe)
		}
	}
	if res.Violations[0].Rule != "secure.whoCanViewGroup" {
		t.Errorf("rule names: %+v", res.Violations)
	}
}

func TestMembershipHygiene(t *testing.T) {
	c := mustParse(t, `
domains: [x.com, sub.x.com]
secure:
  sentinels: [sentinel@x.com]
`)
	members := []greep.Member{
		{Email: "ok@x.com", Type: greep.TypeUser, Status: "ACTIVE"},
		{Email: "gone@x.com", Type: greep.TypeUser, Status: "SUSPENDED"},
		{Email: "left@x.com", Type: greep.TypeUser, Status: "ACTIVE"}, // suspended per the users list
		{Email: "old@sub.x.com", Type: greep.TypeUser, Status: "ARCHIVED"},
		{Email: "vendor@other.org", Type: greep.TypeUser, Role: "MANAGER"},
		{ID: "C0123", Type: greep.TypeCustomer},
	}
	users := map[string]greep.User{"left@x.com": {PrimaryEmail: "left@x.com", Suspended: true}}

	rules := func(res Result) []string {
		var out []string
		for _, v := range res.Violations {
			out = append(out, v.Rule+"="+v.Current)
		}
		return out
	}
	// External members are allowed: only the inactive ones are findings.
	res, _ := c.Evaluate(Input{Group: "g@x.com", Settings: greep.Settings{"allowExternalMembers": "true"}, Members: members, Users: users}, time.Now())
	want := "member.inactive:gone@x.com=SUSPENDED member.inactive:left@x.com=SUSPENDED member.inactive:old@sub.x.com=ARCHIVED"
	if got := strings.Join(rules(res), " "); got != want {
		t.Errorf("allowed external:\n got %s\nwant %s", got, want)
	}
	if res.Patch != nil {
		t.Errorf("membership findings must never patch: %v", res.Patch)
	}
	// Not allowed: the vendor is a finding too.
	res, _ = c.Evaluate(Input{Group: "g@x.com", Settings: greep.Settings{"allowExternalMembers": "false"}, Members: members, Users: users}, time.Now())
	if got := rules(res); len(got) != 4 || got[0] != "member.external:vendor@other.org=EXTERNAL" {
		t.Errorf("external not allowed: %v", got)
	}
	// Secure groups: external members are findings whatever the setting says.
	secure := append([]greep.Member{{Email: "sentinel@x.com", Type: greep.TypeUser}}, members...)
	res, _ = c.Evaluate(Input{Group: "g@x.com", Settings: greep.Settings{"allowExternalMembers": "true"}, Members: secure}, time.Now())
	if got := rules(res); !res.Secure || len(got) != 3 || got[0] != "member.external:vendor@other.org=EXTERNAL" {
		t.Errorf("secure: %v", got)
	}
}

func TestMembershipChecksCanBeTurnedOff(t *testing.T) {
	c := mustParse(t, "membership:\n  inactive: false\n  external: false\n")
	res, _ := c.Evaluate(Input{Group: "g@x.com", Settings: greep.Settings{"allowExternalMembers": "false"},
		Members: []greep.Member{{Email: "a@y.com", Status: "SUSPENDED"}}}, time.Now())
	if len(res.Violations) != 0 {
		t.Fatalf("%+v", res.Violations)
	}
}

func TestDefaultDomainIsTheGroups(t *testing.T) {
	c := mustParse(t, "mode: remediate\n")
	res, _ := c.Evaluate(Input{Group: "g@x.com", Settings: greep.Settings{"allowExternalMembers": "false"},
		Members: []greep.Member{{Email: "a@x.com"}, {Email: "b@y.com"}}}, time.Now())
	if len(res.Violations) != 1 || res.Violations[0].Member != "b@y.com" {
		t.Fatalf("%+v", res.Violations)
	}
}

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(t.TempDir() + "/nope.yaml")
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("error = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestExampleIsTheShippedFile(t *testing.T) {
	shipped, err := os.ReadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(shipped) != string(example) {
		t.Fatal("pkg/rules/example.yaml differs from deploy/remediation.yaml: copy the deploy file over it")
	}
	if c := Example(); c.Mode != ModeDetect || len(c.Rules) == 0 {
		t.Fatalf("%+v", c)
	}
	// Each call is a fresh copy: a caller changing its config cannot change another's.
	a, b := Example(), Example()
	a.Rules[0].Safe = "x"
	if b.Rules[0].Safe == "x" {
		t.Fatal("Example shares its rules between calls")
	}
}
