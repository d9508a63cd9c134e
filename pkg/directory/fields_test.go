package directory_test

import (
	"context"
	"slices"
	"testing"
	"time"

	admin "google.golang.org/api/admin/directory/v1"

	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The sweep asks for partial responses: every group field the cache keeps must still
// arrive. A full sync's groups equal Google's full answer, field by field.
func TestPartialResponsesKeepEveryFieldTheCacheKeeps(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 60, Groups: 80, Seed: 11}, syncplan.Resync{Every: time.Hour})
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	e.assertTruth(t)

	cl, err := workspace.New(ctx, workspace.Config{Endpoint: e.url, AdminSubject: e.sim.Admin()})
	if err != nil {
		t.Fatal(err)
	}
	var full []*admin.Group
	if err := cl.Directory.Groups.List().Customer("my_customer").Pages(ctx, func(p *admin.Groups) error {
		full = append(full, p.Groups...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var described, nonEditable int
	for _, want := range full {
		got, err := e.store.Group(ctx, want.Id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != want.Email || got.Name != want.Name || got.Description != want.Description || got.ETag != want.Etag ||
			got.DirectMembersCount != want.DirectMembersCount || !slices.Equal(got.Aliases, want.Aliases) ||
			!slices.Equal(got.NonEditableAliases, want.NonEditableAliases) {
			t.Errorf("cached %+v\nGoogle's %+v", got, want)
		}
		if want.Description != "" {
			described++
		}
		if len(want.NonEditableAliases) > 0 {
			nonEditable++
		}
	}
	if described == 0 || nonEditable == 0 {
		t.Fatalf("%d groups with a description, %d with non-editable aliases: the tenant must have both for the test to mean anything", described, nonEditable)
	}
}
