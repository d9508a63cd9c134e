package remediation_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/rules"
)

// TestPatchCheck: at apply time a patch passes only if the rules, the mode and the
// exemptions in force, applied to the group's stored settings and members, ask for that
// very change (or it changes nothing a rule calls unsafe).
func TestPatchCheck(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	put := func(email string, settings greep.Settings) {
		if err := store.PutGroups(ctx, []greep.Group{{ID: "id-" + email, Email: email}}); err != nil {
			t.Fatal(err)
		}
		if err := store.ReplaceMembers(ctx, "id-"+email, []greep.Member{{ID: "m1", Email: "a@example.com", Role: "MEMBER", Type: "USER", Status: "ACTIVE"}}, "e1", now); err != nil {
			t.Fatal(err)
		}
		if err := store.PutSettings(ctx, greep.GroupSettings{GroupEmail: email, Settings: settings, ReadAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	public := greep.Settings{"whoCanViewGroup": "ANYONE_CAN_VIEW", "whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW", "whoCanJoin": "INVITED_CAN_JOIN"}
	put("open@example.com", public)
	put("exempt@example.com", public)
	put("fixed@example.com", greep.Settings{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW", "whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW", "whoCanJoin": "INVITED_CAN_JOIN"})

	rc, err := rules.LoadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rc.Exemptions = append(rc.Exemptions, mustExempt(t, "exempt@example.com"))
	res, err := rc.Evaluate(rules.Input{Group: "open@example.com", Settings: public}, now)
	if err != nil || len(res.Patch) == 0 {
		t.Fatalf("the rules ask for no patch of a public group: %+v, %v", res, err)
	}
	asked := res.Patch

	check := remediation.PatchCheck{Rules: rc, Mode: rules.ModeRemediate, Store: store, Now: func() time.Time { return now }}
	for _, c := range []struct {
		name    string
		mode    string
		group   string
		patch   map[string]string
		refused string // a word of the reason; "" for allowed
	}{
		{"what the rules ask for", "", "open@example.com", asked, ""},
		{"loosening a field no rule names", "", "open@example.com", map[string]string{"whoCanJoin": "ANYONE_CAN_JOIN"}, "whoCanJoin=ANYONE_CAN_JOIN"},
		{"loosening a ruled field", "", "fixed@example.com", map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}, "whoCanViewGroup=ANYONE_CAN_VIEW"},
		{"an asked-for patch with a loosening rider", "", "open@example.com", merge(asked, "whoCanJoin", "ANYONE_CAN_JOIN"), "whoCanJoin"},
		{"a re-run after the patch went through", "", "fixed@example.com", asked, ""},
		{"an unsafe value the group already has", "", "open@example.com", map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}, "whoCanViewGroup"},
		{"an exempt group", "", "exempt@example.com", asked, "exempt"},
		{"detect mode", rules.ModeDetect, "open@example.com", asked, "detect"},
		{"a group not in the cache", "", "nosuch@example.com", asked, "not in the cache"},
	} {
		ch := check
		if c.mode != "" {
			ch.Mode = c.mode
		}
		refused, err := ch.Allow(ctx, c.group, c.patch)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (c.refused == "") != (refused == "") || !strings.Contains(refused, c.refused) {
			t.Errorf("%s: refused %q, want %q", c.name, refused, c.refused)
		}
	}
	if refused, _ := (remediation.PatchCheck{Store: store}).Allow(ctx, "open@example.com", asked); refused == "" {
		t.Error("a check without rules allowed a patch")
	}
}

func merge(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}
