package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// testUserDirectory: users are found by id, primary email or any alias; a rename or an
// alias removed frees the old address; listing is by email, paged, filtered by status.
func testUserDirectory(t *testing.T, s greep.Store) {
	must(t, s.PutUsers(ctx, []greep.User{
		{ID: "1", PrimaryEmail: "ann@example.com", Aliases: []string{"Annie@example.com"}, NonEditableAliases: []string{"ann@example.test-google-a.com"}, SyncedAt: t0},
		{ID: "2", PrimaryEmail: "bo@example.com", Suspended: true},
		{ID: "3", PrimaryEmail: "cy@example.com", Archived: true},
		{ID: "4", PrimaryEmail: "di@example.com"},
	}))
	for _, k := range []string{"1", "ANN@example.com", "annie@EXAMPLE.com", "ann@example.test-google-a.com"} {
		u, err := s.User(ctx, k)
		if err != nil || u.ID != "1" || !u.SyncedAt.Equal(t0) || !slices.Equal(u.Aliases, []string{"Annie@example.com"}) {
			t.Errorf("User(%q) = %+v, %v", k, u, err)
		}
	}
	// The alias moves from ann to di.
	must(t, s.PutUsers(ctx, []greep.User{{ID: "1", PrimaryEmail: "ann@example.com"}, {ID: "4", PrimaryEmail: "di@example.com", Aliases: []string{"annie@example.com"}}}))
	if u, err := s.User(ctx, "annie@example.com"); err != nil || u.ID != "4" {
		t.Errorf("moved alias: %+v, %v", u, err)
	}
	if _, err := s.User(ctx, "ann@example.test-google-a.com"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("removed alias: err = %v", err)
	}

	list := func(q greep.UserQuery) []string {
		t.Helper()
		var ids []string
		for {
			us, next, err := s.Users(ctx, q)
			must(t, err)
			for _, u := range us {
				ids = append(ids, u.ID)
			}
			if next == "" {
				return ids
			}
			q.Token = next
		}
	}
	if got := list(greep.UserQuery{Page: greep.Page{Limit: 1}}); !slices.Equal(got, []string{"1", "2", "3", "4"}) {
		t.Errorf("Users by 1 = %v", got)
	}
	for status, want := range map[string][]string{greep.UserActive: {"1", "4"}, greep.UserSuspended: {"2"}, greep.UserArchived: {"3"}} {
		if got := list(greep.UserQuery{Status: status, Page: greep.Page{Limit: 1}}); !slices.Equal(got, want) {
			t.Errorf("Users(%s) = %v, want %v", status, got, want)
		}
	}
	_, _, err := s.Users(ctx, greep.UserQuery{Status: "GONE"})
	wantCode(t, "Users with an unknown status", err, greep.EINVALID)

	must(t, s.DeleteUser(ctx, "4"))
	must(t, s.DeleteUser(ctx, "4"))
	for _, k := range []string{"4", "di@example.com", "annie@example.com"} {
		if _, err := s.User(ctx, k); !errors.Is(err, greep.ErrNotFound) {
			t.Errorf("deleted user by %q: err = %v", k, err)
		}
	}
	if got := list(greep.UserQuery{}); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Errorf("Users after a delete = %v", got)
	}
	wantCode(t, "PutUsers with a bad alias", s.PutUsers(ctx, []greep.User{{ID: "5", PrimaryEmail: "e@example.com", Aliases: []string{""}}}), greep.EINVALID)
}
