package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

func userFixture() *memStore {
	s := fixture()
	err := s.PutUsers(context.Background(), []greep.User{
		{ID: "u1", PrimaryEmail: "ann@example.com", Aliases: []string{"annie@example.com"}, NonEditableAliases: []string{"ann@example.com.test-google-a.com"}, SyncedAt: t0},
		{ID: "u2", PrimaryEmail: "bo@example.com", Suspended: true, SyncedAt: t0},
		{ID: "u3", PrimaryEmail: "cy@example.com", Archived: true, SyncedAt: t0},
		{ID: "u4", PrimaryEmail: "di@example.com", SyncedAt: t0},
	})
	if err != nil {
		panic(err) // the fixtures are built before a test has its *testing.T
	}
	return s
}

// GET /v1/users pages through the directory, filtered by status; a bad status is 400.
func TestV1Users(t *testing.T) {
	s := newTestServer(t, userFixture(), nil)
	type page struct {
		Users         []v1User
		NextPageToken string
	}
	list := func(status string) (ids []string) {
		t.Helper()
		tok := ""
		for {
			var p page
			get(t, s.router, "/v1/users?maxResults=1&status="+status+"&pageToken="+url.QueryEscape(tok)).decode(t, &p)
			for _, u := range p.Users {
				if u.SyncedAt.IsZero() || u.Aliases == nil {
					t.Errorf("user without syncedAt or aliases: %+v", u)
				}
				ids = append(ids, u.ID+":"+u.Status)
			}
			if tok = p.NextPageToken; tok == "" {
				return ids
			}
		}
	}
	if got, want := list(""), []string{"u1:ACTIVE", "u2:SUSPENDED", "u3:ARCHIVED", "u4:ACTIVE"}; !slices.Equal(got, want) {
		t.Errorf("/v1/users = %v, want %v", got, want)
	}
	if got, want := list("suspended"), []string{"u2:SUSPENDED"}; !slices.Equal(got, want) {
		t.Errorf("/v1/users?status=suspended = %v, want %v", got, want)
	}
	if got, want := list("ACTIVE"), []string{"u1:ACTIVE", "u4:ACTIVE"}; !slices.Equal(got, want) {
		t.Errorf("/v1/users?status=ACTIVE = %v, want %v", got, want)
	}
	get(t, s.router, "/v1/users?status=GONE").googleError(t, http.StatusBadRequest, "invalid")
	var p page
	get(t, s.router, "/v1/users?maxResults=1").decode(t, &p)
	get(t, s.router, "/v1/users?status=ACTIVE&pageToken="+url.QueryEscape(p.NextPageToken)).googleError(t, http.StatusBadRequest, "invalid")
}

// GET /v1/users/{key} by primary email, alias, non-editable alias or id.
func TestV1User(t *testing.T) {
	s := newTestServer(t, userFixture(), nil)
	for _, key := range []string{"ann@example.com", "ANNIE@example.com", "ann@example.com.test-google-a.com", "u1"} {
		var u v1User
		get(t, s.router, "/v1/users/"+url.PathEscape(key)).decode(t, &u)
		if u.ID != "u1" || u.PrimaryEmail != "ann@example.com" || u.Status != "ACTIVE" || !slices.Equal(u.Aliases, []string{"annie@example.com", "ann@example.com.test-google-a.com"}) {
			t.Errorf("/v1/users/%s = %+v", key, u)
		}
	}
	get(t, s.router, "/v1/users/nobody@example.com").googleError(t, http.StatusNotFound, "notFound")
}
