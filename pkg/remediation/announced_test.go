package remediation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/tasks"
)

// announce leaves a provisional value of field, as the webhook's applier does for a
// settings notification.
func announce(t *testing.T, e *env, group, field, value, activityID string) {
	t.Helper()
	now := e.clock.Now()
	m := provisional.SettingMark{Field: field, Value: value, EventTime: now, ActivityID: activityID, AcceptedAt: now}
	if err := provisional.UpdateSettings(context.Background(), e.store, group, func(ms provisional.SettingMarks) provisional.SettingMarks {
		ms.Fields = append(ms.Fields, m)
		return ms
	}); err != nil {
		t.Fatal(err)
	}
}

// An unsafe setting a notification announced opens its finding at once and patches
// nothing, nor does a read that does not show it yet; the read that confirms it patches
// once.
func TestAnnouncedSettingOpensTheFindingAndTheConfirmingReadPatches(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testRules, "remediate")
	e.group(t, "g@example.com", safeSettings(), alice)
	evaluate(t, e, "g@example.com", "")
	if fs := e.findings(t, greep.FindingQuery{}); len(fs) != 0 {
		t.Fatalf("findings before the change: %+v", fs)
	}

	e.clock.Advance(time.Minute)
	announce(t, e, "g@example.com", "whoCanViewGroup", "ANYONE_CAN_VIEW", "act1")
	judge(t, e, tasks.Judge{Group: "g@example.com", Version: "act1", Provisional: true})
	f := finding(t, e, "g@example.com", "group-not-public")
	if f.State != greep.FindingOpen || f.Before != "ANYONE_CAN_VIEW" || !strings.Contains(f.Detail, "settings change a notification announced") {
		t.Fatalf("finding on the notification: %+v", f)
	}
	if p := patches(t, e); len(p) != 0 {
		t.Fatalf("the notification alone queued a patch: %v", keys(p))
	}
	if r := reads(t, e); len(r) != 0 {
		t.Fatalf("the notification asked for reads %+v (its debounced read is queued by the webhook)", r)
	}

	// A read that still shows the old value (Google lags) keeps the announced value: its
	// evaluation judges as the notification did and patches nothing.
	e.clock.Advance(time.Minute)
	if err := e.store.PutSettings(ctx, greep.GroupSettings{GroupEmail: "g@example.com", Settings: safeSettings(), ReadAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	evaluate(t, e, "g@example.com", "")
	if p := patches(t, e); len(p) != 0 {
		t.Fatalf("an evaluation over an unconfirmed value queued a patch: %v", keys(p))
	}

	// The confirming read: Google shows the value, the mark goes (the settings worker's
	// settling), and its evaluation patches once.
	e.clock.Advance(time.Minute)
	if err := e.store.PutSettings(ctx, greep.GroupSettings{GroupEmail: "g@example.com", Settings: with(safeSettings(), "whoCanViewGroup", "ANYONE_CAN_VIEW"), ReadAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := provisional.UpdateSettings(ctx, e.store, "g@example.com", func(provisional.SettingMarks) provisional.SettingMarks { return provisional.SettingMarks{} }); err != nil {
		t.Fatal(err)
	}
	evaluate(t, e, "g@example.com", "")
	p := patches(t, e)
	if len(p) != 1 {
		t.Fatalf("the confirming read queued %d patches, want 1: %v", len(p), keys(p))
	}
	for _, body := range p {
		if body.Patch["whoCanViewGroup"] != "ALL_MEMBERS_CAN_VIEW" {
			t.Fatalf("patch %+v", body)
		}
	}
	evaluate(t, e, "g@example.com", "") // the evaluation delivered twice
	if p := patches(t, e); len(p) != 0 {
		t.Fatalf("a second patch: %v", keys(p))
	}
}
