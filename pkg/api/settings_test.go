package api

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
)

// TestV1Settings: GET /v1/groups/{g}/settings answers Google's last read with the values
// notifications announced over it, each of those also under "provisional"; a group whose
// settings were never read answers what was announced; scope, group limits and unknown
// groups answer as the group's other reads do, in Google's error JSON.
func TestV1Settings(t *testing.T) {
	ctx := context.Background()
	st := fixture()
	if err := st.PutSettings(ctx, greep.GroupSettings{GroupEmail: "big@example.com", ReadAt: t0,
		Settings: greep.Settings{"whoCanJoin": "INVITED_CAN_JOIN", "archiveOnly": "false"}}); err != nil {
		t.Fatal(err)
	}
	announced := provisional.SettingMark{Field: "whoCanJoin", Value: "ANYONE_CAN_JOIN", EventTime: t0.Add(time.Minute), ActivityID: "act1", AcceptedAt: t0.Add(2 * time.Minute)}
	for _, group := range []string{"big@example.com", "eng@example.com"} {
		if err := provisional.UpdateSettings(ctx, st, group, func(provisional.SettingMarks) provisional.SettingMarks {
			return provisional.SettingMarks{Fields: []provisional.SettingMark{announced}}
		}); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestServer(t, st, principals{
		"all":     auth.NewPrincipal("all", []string{auth.ScopeGroups}, nil),
		"eng":     auth.NewPrincipal("eng", []string{auth.ScopeGroups}, []string{"*@eng.example.com"}),
		"history": auth.NewPrincipal("history", []string{auth.ScopeHistory}, nil),
	})
	as := func(p string) []string { return []string{"Authorization", "Bearer " + p} }

	var got v1Settings
	do(t, s.router, "GET", "/v1/groups/everyone@example.com/settings", as("all")...).decode(t, &got) // by alias
	if got.Settings["whoCanJoin"] != "ANYONE_CAN_JOIN" || got.Settings["archiveOnly"] != "false" || got.ReadAt == nil || !got.ReadAt.Equal(t0) {
		t.Fatalf("settings %+v", got)
	}
	p, ok := got.Provisional["whoCanJoin"]
	if len(got.Provisional) != 1 || !ok || p.Value != "ANYONE_CAN_JOIN" || p.ActivityID != "act1" || !p.AcceptedAt.Equal(announced.AcceptedAt) {
		t.Fatalf("provisional %+v", got.Provisional)
	}

	// Never read: what was announced, no readAt.
	got = v1Settings{}
	a := do(t, s.router, "GET", "/v1/groups/g-eng/settings", as("all")...)
	a.decode(t, &got)
	if got.ReadAt != nil || len(got.Settings) != 1 || got.Settings["whoCanJoin"] != "ANYONE_CAN_JOIN" || len(got.Provisional) != 1 {
		t.Fatalf("never read: %s", a.body)
	}
	// Neither read nor announced: an empty object, not null.
	if a := do(t, s.router, "GET", "/v1/groups/ops@eng.example.com/settings", as("eng")...); a.code != 200 || string(a.body) != "{\"settings\":{}}\n" {
		t.Fatalf("nothing known: %d %s", a.code, a.body)
	}

	do(t, s.router, "GET", "/v1/groups/nosuch@example.com/settings", as("all")...).googleError(t, 404, "notFound")
	do(t, s.router, "GET", "/v1/groups/big@example.com/settings", as("eng")...).googleError(t, 403, "forbidden")
	do(t, s.router, "GET", "/v1/groups/big@example.com/settings", as("history")...).googleError(t, 403, "forbidden")
	do(t, s.router, "GET", "/v1/groups/big@example.com/settings").googleError(t, 401, "authError")
}
