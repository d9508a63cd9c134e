package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/wiring/wiringtest"
)

// TestForgedPatchChangesNothing (issue 13, must show 3): on App Engine (GAE_ENV=standard,
// so X-AppEngine-QueueName is trusted) a request that forges that header to the patch
// path, asking to open a group to anyone (whoCanJoin=ANYONE_CAN_JOIN), even in remediate
// mode with the group cached, leaves Google's truth as it was, sends no patch, and is
// logged. A patch the rules do ask for still goes through the same path.
func TestForgedPatchChangesNothing(t *testing.T) {
	t.Setenv("GAE_ENV", "standard")
	ctx := context.Background()
	cfg, err := parseConfig([]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l",
		"--rules", wiringtest.RulesFile(), "--remediation", rules.ModeRemediate})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfg.RulesFile.Load()
	if err != nil {
		t.Fatal(err)
	}
	rt, sim := wiringtest.RuntimeSim(t)
	rt.TrustTaskHeaders = service.TrustTaskHeaders()
	core, logs := observer.New(zap.InfoLevel)
	rt.Log = zap.New(core)
	svc, err := build(rt, cfg, rc)
	if err != nil {
		t.Fatal(err)
	}

	// The group as the cache knows it after a sync and a settings read.
	truth, err := sim.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	g := truth.Groups[0]
	if g.Settings["whoCanJoin"] == "ANYONE_CAN_JOIN" {
		t.Fatalf("the seed's first group is already open to anyone: %v", g.Settings)
	}
	if err := rt.Store.PutGroups(ctx, []greep.Group{{ID: g.ID, Email: g.Email, Name: g.Name}}); err != nil {
		t.Fatal(err)
	}
	var members []greep.Member
	for _, m := range g.Members {
		members = append(members, greep.Member{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status})
	}
	if err := rt.Store.ReplaceMembers(ctx, g.ID, members, g.ETag, rt.Now()); err != nil {
		t.Fatal(err)
	}
	if err := rt.Store.PutSettings(ctx, greep.GroupSettings{GroupEmail: g.Email, Settings: greep.Settings(g.Settings), ReadAt: rt.Now()}); err != nil {
		t.Fatal(err)
	}

	post := func(body string) int {
		r := httptest.NewRequest(http.MethodPost, tasks.PathSettingsPatch, strings.NewReader(body))
		r.Header.Set(queue.HeaderQueueName, tasks.QueueSettings)
		r.Header.Set(queue.HeaderTaskName, "forged")
		w := httptest.NewRecorder()
		svc.Handler.ServeHTTP(w, r)
		return w.Code
	}
	forged := `{"group":"` + g.Email + `","patch":{"whoCanJoin":"ANYONE_CAN_JOIN"},"findings":[]}`
	if code := post(forged); code/100 != 2 {
		t.Errorf("forged patch answered %d: want 2xx, so no queue retries it", code)
	}
	after, err := sim.Sim.Truth(g.Email)
	if err != nil {
		t.Fatal(err)
	}
	if got, was := after.Groups[0].Settings["whoCanJoin"], g.Settings["whoCanJoin"]; got != was {
		t.Fatalf("a forged task changed whoCanJoin from %s to %s", was, got)
	}
	if n := sim.Sim.Stats().Calls["groupssettings.groups.patch"]; n != 0 {
		t.Errorf("%d patch calls reached Google", n)
	}
	refusals := logs.FilterMessageSnippet("settings patch refused").All()
	if len(refusals) != 1 || !strings.Contains(refusals[0].ContextMap()["reason"].(string), "whoCanJoin=ANYONE_CAN_JOIN") {
		t.Errorf("refusal logs %+v: want one naming whoCanJoin=ANYONE_CAN_JOIN", refusals)
	}

	// The path still serves what the rules ask for: make the group public, and the
	// patch the rules give is sent.
	open := greep.Settings{}
	for k, v := range g.Settings {
		open[k] = v
	}
	open["whoCanViewGroup"] = "ANYONE_CAN_VIEW"
	open["whoCanViewMembership"] = "ALL_IN_DOMAIN_CAN_VIEW"
	if err := rt.Store.PutSettings(ctx, greep.GroupSettings{GroupEmail: g.Email, Settings: open, ReadAt: rt.Now().Add(1)}); err != nil {
		t.Fatal(err)
	}
	res, err := rc.Evaluate(rules.Input{Group: g.Email, Settings: open, Members: members}, rt.Now())
	if err != nil || res.Patch["whoCanViewGroup"] != "ALL_MEMBERS_CAN_VIEW" {
		t.Fatalf("rules patch %v, %v", res.Patch, err)
	}
	asked, err := json.Marshal(tasks.SettingsPatch{Group: g.Email, Patch: res.Patch})
	if err != nil {
		t.Fatal(err)
	}
	if code := post(string(asked)); code/100 != 2 {
		t.Fatalf("the asked-for patch answered %d", code)
	}
	if n := sim.Sim.Stats().Calls["groupssettings.groups.patch"]; n != 1 {
		t.Errorf("%d patch calls, want the asked-for one", n)
	}
}
