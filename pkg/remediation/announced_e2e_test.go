package remediation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// Against the simulator, in remediate mode: a notification announcing an unsafe setting
// opens its finding through the webhook's applier alone and patches nothing; the
// debounced settings read that confirms it patches once.
func TestAnnouncedSettingPatchesOnlyAfterTheConfirmingRead(t *testing.T) {
	ctx := context.Background()
	tn := newTenant(t, 25)
	tn.setMode(rules.ModeRemediate, tn.worker)
	tn.sweep(t) // every known finding patched: a clean start
	patched := tn.patchCalls()

	if err := tn.sim.Apply([]workspacesim.Mutation{{Op: "setSettings", Group: dom, Actor: "mallory@example.com",
		Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}}}); err != nil {
		t.Fatal(err)
	}
	// What the push service does with the CHANGE_GROUP_SETTING activity, as wiring.NewPush
	// builds it: record it, apply it provisionally, and judge the group.
	ev := greep.Event{ID: "admin:e1:0", Time: tn.sim.Now(), Actor: "mallory@example.com", Event: "CHANGE_GROUP_SETTING", Group: dom,
		Setting: "WHO_CAN_VIEW_GROUP", OldValue: "ALL_MEMBERS_CAN_VIEW", NewValue: "ANYONE_CAN_VIEW"}
	if _, err := tn.store.AddEvents(ctx, []greep.Event{ev}); err != nil {
		t.Fatal(err)
	}
	applier := &provisional.Applier{Store: tn.store, Now: tn.sim.Now, Log: zap.NewNop(), Changed: func(ctx context.Context, key string) {
		task, err := tasks.JudgeTask(tasks.Judge{Group: key, Version: greep.CauseOf(ctx).ActivityID, Provisional: true})
		if err == nil {
			err = tn.disp.Enqueue(ctx, task)
		}
		if err != nil {
			t.Error(err)
		}
	}}
	applier.Apply(ctx, []greep.Event{ev})
	applier.Flush()
	tn.idle(t)

	f := tn.findings(t)[dom+" group-not-public"]
	if f.State != greep.FindingOpen || f.Before != "ANYONE_CAN_VIEW" || !strings.Contains(f.Detail, "notification announced") {
		t.Fatalf("finding on the notification alone: %+v", f)
	}
	if n := tn.patchCalls(); n != patched {
		t.Fatalf("%d patches on the notification alone", n-patched)
	}
	if got := tn.truth(t, dom, "whoCanViewGroup"); got != "ANYONE_CAN_VIEW" {
		t.Fatalf("the truth is %s before the read: something patched", got)
	}

	// The debounced read: it confirms the value, and its evaluation patches once.
	task, _ := tasks.New(tasks.QueueSettings, tasks.PathSettingsGet, tasks.Name(dom, "e1"), tasks.SettingsGet{Group: dom, Reason: "push"}, time.Time{})
	if err := tn.disp.Enqueue(ctx, task); err != nil {
		t.Fatal(err)
	}
	tn.idle(t)
	if n := tn.patchCalls(); n != patched+1 {
		t.Fatalf("%d patches after the confirming read, want 1", n-patched)
	}
	if got := tn.truth(t, dom, "whoCanViewGroup"); got != "ALL_MEMBERS_CAN_VIEW" {
		t.Fatalf("after the read the truth says %s", got)
	}
	if f := tn.findings(t)[dom+" group-not-public"]; f.State != greep.FindingFixed || f.ChangedBy != "mallory@example.com" {
		t.Fatalf("finding after the read: %+v", f)
	}
	if m, err := provisional.LoadSettings(ctx, tn.store, dom); err != nil || len(m.Fields) != 0 {
		t.Fatalf("provisional settings left: %+v (%v)", m, err)
	}
}
