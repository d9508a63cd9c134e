package settingsworker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// TestReadSettlesProvisionalSettings: a read confirms the announced value it shows and
// keeps the one it does not show yet, re-polling for it; the last re-poll drops it,
// logged with its activity id. The stored settings are Google's read throughout.
func TestReadSettlesProvisionalSettings(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 0)
	accepted := e.sim.Now().Add(-time.Minute)
	marks := provisional.SettingMarks{Fields: []provisional.SettingMark{
		// Google shows this one (the group was created with it).
		{Field: "whoCanViewMembership", Value: "ALL_IN_DOMAIN_CAN_VIEW", EventTime: accepted, ActivityID: "shown", AcceptedAt: accepted},
		// Google's read never shows this one.
		{Field: "whoCanViewGroup", Value: "ALL_MEMBERS_CAN_VIEW", EventTime: accepted, ActivityID: "never", AcceptedAt: accepted},
	}}
	if err := provisional.UpdateSettings(ctx, e.store, "g@example.com", func(provisional.SettingMarks) provisional.SettingMarks { return marks }); err != nil {
		t.Fatal(err)
	}

	if code := e.run(t, tasks.QueueSettings, tasks.PathSettingsGet, tasks.SettingsGet{Group: "g@example.com", Reason: "push"}); code != http.StatusNoContent {
		t.Fatalf("get: %d", code)
	}
	left, err := provisional.LoadSettings(ctx, e.store, "g@example.com")
	if err != nil || len(left.Fields) != 1 || left.Fields[0].ActivityID != "never" {
		t.Fatalf("after the first read: %+v (%v); want the unshown value kept", left, err)
	}
	gs, err := e.store.Settings(ctx, "g@example.com")
	if err != nil || gs.Settings["whoCanViewGroup"] != "ANYONE_CAN_VIEW" {
		t.Fatalf("stored settings %v (%v): want Google's read", gs.Settings, err)
	}
	repolls := e.taken(tasks.PathSettingsGet)
	if len(repolls) != 1 || !repolls[0].ScheduleTime.After(e.sim.Now()) {
		t.Fatalf("re-polls %+v: want one, later", repolls)
	}
	var next tasks.SettingsGet
	if err := json.Unmarshal(repolls[0].Body, &next); err != nil || next.Attempt != 1 || next.Group != "g@example.com" {
		t.Fatalf("re-poll body %s (%v)", repolls[0].Body, err)
	}
	if n := len(e.taken(tasks.PathRemediationEvaluate)); n != 1 {
		t.Fatalf("%d evaluations queued, want 1", n)
	}

	// The last re-poll still does not show it: dropped, logged, no further re-poll.
	last := tasks.SettingsGet{Group: "g@example.com", Reason: "push", Attempt: syncplan.DefaultRepoll.Attempts}
	if code := e.run(t, tasks.QueueSettings, tasks.PathSettingsGet, last); code != http.StatusNoContent {
		t.Fatalf("last re-poll: %d", code)
	}
	if left, err := provisional.LoadSettings(ctx, e.store, "g@example.com"); err != nil || len(left.Fields) != 0 {
		t.Fatalf("after the last re-poll: %+v (%v); want none left", left, err)
	}
	if n := len(e.taken(tasks.PathSettingsGet)); n != 1 {
		t.Fatalf("%d re-polls after the last, want none more", n-1)
	}
	if e.logs.FilterMessageSnippet("provisional setting dropped").FilterField(zap.String("activityId", "never")).Len() != 1 {
		t.Fatalf("the dropped setting is not logged with its activity id: %v", e.logs.All())
	}
}
