package rules

import (
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"
)

// FuzzParse feeds Parse arbitrary files: it must answer a config or an error naming a
// line, never panic, and a config it accepts must evaluate a group without error.
func FuzzParse(f *testing.F) {
	shipped, err := os.ReadFile("../../deploy/remediation.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(shipped),
		"",
		"mode: remediate\nrunCap: 3\n",
		"rules:\n  -",
		"exemptions:\n  -",
		"rules:\n  - ~\n  - field: whoCanJoin\n",
		"secure:\n  sentinels: [s@x.com]\n  rules:\n    - field: whoCanModerateMembers\n      unsafe: [ALL_MEMBERS]\n      safe: OWNERS_AND_MANAGERS\n",
		"exemptions:\n  - group: a@x.com\n    reason: r\n    expires: 2026-12-31\n",
		"rules: &a\n  - field: whoCanJoin\n    unsafe: [ANYONE_CAN_JOIN]\n    safe: INVITED_CAN_JOIN\n",
		"rules: [\n",
		"- a\n- b\n",
	} {
		f.Add([]byte(seed))
	}
	lineErr := regexp.MustCompile(`\bline \d+`)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if !lineErr.MatchString(err.Error()) {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		if c.Mode != ModeDetect && c.Mode != ModeRemediate {
			t.Fatalf("accepted mode %q", c.Mode)
		}
		in := Input{Group: "g@example.com", Settings: map[string]string{}}
		for _, r := range append(append([]Rule{}, c.Rules...), c.Secure.Rules...) {
			in.Settings[r.Field] = r.Unsafe[0]
		}
		if _, err := c.Evaluate(in, time.Unix(0, 0)); err != nil {
			t.Fatalf("accepted rules fail to evaluate: %v", err)
		}
		// Every accepted exemption matches its group, by id, while it is active.
		ids := map[string]string{}
		for i, e := range c.Exemptions {
			ids[e.Group] = fmt.Sprint("bound id ", i) // a space: no id the file may name
		}
		for i, e := range c.Exemptions {
			id := ids[e.Group]
			if e.ByID() {
				id = e.Group
			}
			now := time.Unix(0, 0)
			if got := c.ExemptionOf(id, ids, now); e.Active(now) && (got == nil || got.Group != e.Group) {
				t.Fatalf("exemption %d (%s) does not match its group: %+v", i, e.Group, got)
			}
		}
	})
}
