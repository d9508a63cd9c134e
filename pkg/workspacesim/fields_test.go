package workspacesim_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/workspacesim"
)

// A `fields` selection, sent by the official client, answers with only what it selects,
// for every element of a list, and keeps the page token that pages the list.
func TestPartialResponse(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 30, Groups: 12, Seed: 2})
	ctx := context.Background()
	gs, err := cl.Directory.Groups.List().Customer("my_customer").MaxResults(5).
		Fields("nextPageToken", "groups(id,email,directMembersCount)").Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(gs.Groups) != 5 || gs.NextPageToken == "" || gs.Kind != "" || gs.Etag != "" {
		t.Fatalf("groups page: %d groups, token %q, kind %q, etag %q: want 5, a token, no kind and no etag", len(gs.Groups), gs.NextPageToken, gs.Kind, gs.Etag)
	}
	var big string
	for _, g := range gs.Groups {
		if g.Id == "" || g.Email == "" || g.Name != "" || g.Etag != "" || g.Kind != "" {
			t.Errorf("group %+v: want id, email and count only", g)
		}
		if g.DirectMembersCount > 0 {
			big = g.Id
		}
	}
	if big == "" {
		t.Fatal("no group with members in the first page")
	}
	ms, err := cl.Directory.Members.List(big).Fields("members(email,role)").Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	full, err := cl.Directory.Members.List(big).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms.Members) == 0 || len(ms.Members) != len(full.Members) {
		t.Fatalf("%d members with fields, %d without", len(ms.Members), len(full.Members))
	}
	for i, m := range ms.Members {
		if m.Email != full.Members[i].Email || m.Role != full.Members[i].Role || m.Id != "" || m.Type != "" || m.Status != "" {
			t.Errorf("member %+v: want only the email and role of %+v", m, full.Members[i])
		}
	}

	// Sub-paths select within an object: a/b is a(b).
	raw := getRaw(t, srv.URL+"/admin/directory/v1/groups/"+big+"/members?fields=members/email", srv.Sim.Admin())
	if !strings.Contains(raw, `"email"`) || strings.Contains(raw, `"role"`) || strings.Contains(raw, `"kind"`) {
		t.Errorf("fields=members/email answered %s", raw)
	}
}

// A selection Google cannot take is a 400 that names it, and the call changes nothing.
func TestPartialResponseRefusesBadSelections(t *testing.T) {
	_, cl := start(t, workspacesim.Config{Users: 10, Groups: 4, Seed: 2})
	ctx := context.Background()
	for _, fields := range []googleapi.Field{"groups(id", "groups(nope)", "nope", "groups/email/x", "groups()", ",", "groups)"} {
		_, err := cl.Directory.Groups.List().Customer("my_customer").Fields(fields).Context(ctx).Do()
		gerr := apiErr(t, err, http.StatusBadRequest, "invalidParameter")
		if !strings.Contains(gerr.Message, "Invalid field selection") {
			t.Errorf("fields=%s: %q, want Invalid field selection", fields, gerr.Message)
		}
	}
}

func getRaw(t *testing.T, url, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}
