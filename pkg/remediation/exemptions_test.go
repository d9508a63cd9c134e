package remediation

import (
	"context"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// An exemption written with a group's email follows the group, by id, through a rename:
// matching the current primary email, as before, silently dropped it and patched the group.
// A new group that takes the old address is not exempt.
func TestRenamedGroupStaysExempt(t *testing.T) {
	e := newEnv(t, strings.Replace(testRules, "runCap: 2", "runCap: 10", 1), "remediate")
	ctx := context.Background()
	member := greep.Member{ID: "u1", Email: "alice@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	unsafe := with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW")
	e.group(t, "public@example.com", unsafe, member)
	evaluate(t, e, "public@example.com", "run-1") // binds the exemption to id-public@example.com

	// Renamed: same id, new address; its settings are read under the new address.
	const renamed = "public-list@example.com"
	if err := e.store.PutGroups(ctx, []greep.Group{{ID: "id-public@example.com", Email: renamed, Name: renamed}}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutSettings(ctx, greep.GroupSettings{GroupEmail: renamed, Settings: unsafe, ReadAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	// And a new group takes the old address.
	if err := e.store.PutGroups(ctx, []greep.Group{{ID: "id-newcomer", Email: "public@example.com", Name: "newcomer"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ReplaceMembers(ctx, "id-newcomer", []greep.Member{member}, "etag", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutSettings(ctx, greep.GroupSettings{GroupEmail: "public@example.com", Settings: unsafe, ReadAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	evaluate(t, e, renamed, "run-2")
	evaluate(t, e, "public@example.com", "run-2")

	p := patches(t, e)
	if _, ok := p[renamed]; ok {
		t.Errorf("the renamed exempt group was patched: %+v", p[renamed])
	}
	if _, ok := p["public@example.com"]; !ok {
		t.Errorf("the new group at the old address inherited the exemption: patches %v", p)
	}
	// The groupssettings worker's re-check before a patch agrees.
	check := PatchCheck{Rules: e.svc.cfg.Rules, Mode: "remediate", Store: e.store, Now: e.clock.Now}
	if refused, err := check.Allow(ctx, renamed, map[string]string{"whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW"}); err != nil || !strings.Contains(refused, "exempt") {
		t.Errorf("PatchCheck of the renamed exempt group: %q, %v", refused, err)
	}
	fs := e.findings(t, greep.FindingQuery{Group: renamed})
	if len(fs) != 1 || fs[0].State != greep.FindingExempt || !strings.Contains(fs[0].Detail, "the rules file names it public@example.com") {
		t.Fatalf("renamed group's findings: %+v", fs)
	}
}

// The binding is made once and kept in the store: another Service (a restart, another
// instance) matches the renamed group without having seen the old address.
func TestExemptionBindingIsStored(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	e.group(t, "public@example.com", safeSettings())
	ids, err := ExemptionIDs(context.Background(), e.store, e.svc.cfg.Rules)
	if err != nil || ids["public@example.com"] != "id-public@example.com" {
		t.Fatalf("bindings %v, %v", ids, err)
	}
	if err := e.store.PutGroups(context.Background(), []greep.Group{{ID: "id-public@example.com", Email: "renamed@example.com"}}); err != nil {
		t.Fatal(err)
	}
	got, err := Exemption(context.Background(), e.store, e.svc.cfg.Rules, greep.Group{ID: "id-public@example.com", Email: "renamed@example.com"}, e.clock.Now())
	if err != nil || got == nil || got.Reason != "a public list by design" {
		t.Fatalf("exemption of the renamed group: %+v, %v", got, err)
	}
}
