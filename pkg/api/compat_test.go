package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/oauth2"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/workspacesim"
)

const apiToken = "compat-token"

// env is a simulator tenant, an embedded store filled with the simulator's truth (what a
// completed sync leaves), and Greep's read API over that store.
type env struct {
	sim   *workspacesim.Server
	store *bolt.Store
	greep *httptest.Server
	truth workspacesim.Truth
}

func newEnv(t testing.TB, users, groups int) *env {
	t.Helper()
	sim, err := workspacesim.Start(workspacesim.Config{Users: users, Groups: groups, Seed: 42, QuotaPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	truth, err := sim.Sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	fill(t, store, truth, sim.Sim.Now())

	a, err := auth.NewStaticToken(apiToken)
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Config{Store: store, Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{sim: sim, store: store, greep: srv, truth: truth}
}

// fill writes truth into the store as a sync would.
func fill(t testing.TB, s *bolt.Store, truth workspacesim.Truth, at time.Time) {
	t.Helper()
	if err := fillStore(s, truth, at); err != nil {
		t.Fatal(err)
	}
}

func fillStore(s *bolt.Store, truth workspacesim.Truth, at time.Time) error {
	ctx := context.Background()
	var batch []greep.Group
	flush := func() error {
		err := s.PutGroups(ctx, batch)
		batch = batch[:0]
		return err
	}
	for _, g := range truth.Groups {
		batch = append(batch, greep.Group{ID: g.ID, Email: g.Email, Aliases: g.Aliases, NonEditableAliases: g.NonEditableAliases, Name: g.Name, Description: g.Description,
			DirectMembersCount: g.DirectMembersCount, ETag: g.ETag, SyncedAt: at})
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	users := make([]greep.User, len(truth.Users))
	for i, u := range truth.Users {
		users[i] = greep.User{ID: u.ID, PrimaryEmail: u.PrimaryEmail, Aliases: u.Aliases, NonEditableAliases: u.NonEditableAliases,
			Suspended: u.Suspended, Archived: u.Archived, SyncedAt: at}
	}
	if err := s.PutUsers(ctx, users); err != nil {
		return err
	}
	for _, g := range truth.Groups {
		if len(g.Members) == 0 {
			continue
		}
		ms := make([]greep.Member, len(g.Members))
		for i, m := range g.Members {
			ms[i] = greep.Member{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status}
		}
		if err := s.ReplaceMembers(ctx, g.ID, ms, g.ETag, at); err != nil {
			return fmt.Errorf("members of %s: %w", g.Email, err)
		}
	}
	return nil
}

func directoryClient(t testing.TB, endpoint, token string) *admin.Service {
	t.Helper()
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	svc, err := admin.NewService(context.Background(), option.WithEndpoint(endpoint+"/"), option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// The Directory resources as Google's client decodes them, minus what Greep does not
// copy from Google: list and member etags (Greep's own, over what it serves) and
// adminCreated.
func normGroups(gs []*admin.Group) []admin.Group {
	out := make([]admin.Group, len(gs))
	for i, g := range gs {
		c := *g
		c.AdminCreated, c.ServerResponse = false, googleapi.ServerResponse{}
		out[i] = c
	}
	return out
}

func normMembers(ms []*admin.Member) []admin.Member {
	out := make([]admin.Member, len(ms))
	for i, m := range ms {
		c := *m
		c.Etag, c.DeliverySettings, c.ServerResponse = "", "", googleapi.ServerResponse{}
		out[i] = c
	}
	return out
}

func listGroups(t *testing.T, call *admin.GroupsListCall) ([]admin.Group, int) {
	t.Helper()
	var all []*admin.Group
	pages := 0
	err := call.Pages(context.Background(), func(p *admin.Groups) error {
		pages++
		if p.Kind != "admin#directory#groups" {
			t.Errorf("page kind %q", p.Kind)
		}
		all = append(all, p.Groups...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return normGroups(all), pages
}

func listMembers(t *testing.T, call *admin.MembersListCall) []admin.Member {
	t.Helper()
	var all []*admin.Member
	err := call.Pages(context.Background(), func(p *admin.Members) error {
		if p.Kind != "admin#directory#members" || p.Etag == "" {
			t.Errorf("page kind %q etag %q", p.Kind, p.Etag)
		}
		all = append(all, p.Members...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return normMembers(all)
}

func equal[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: Greep gave %d, the simulator %d", what, len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: item %d differs:\n greep %+v\n   sim %+v", what, i, got[i], want[i])
		}
	}
}

func TestGoDirectoryClientThroughGreep(t *testing.T) {
	e := newEnv(t, 300, 400)
	viaGreep := directoryClient(t, e.greep.URL, apiToken)
	direct := directoryClient(t, e.sim.URL, e.sim.Sim.Admin())

	// Groups, paged 57 at a time, by customer and by domain.
	got, pages := listGroups(t, viaGreep.Groups.List().Customer("my_customer").MaxResults(57))
	want, _ := listGroups(t, direct.Groups.List().Customer("my_customer").MaxResults(57))
	equal(t, "groups.list customer", got, want)
	if len(got) != len(e.truth.Groups) || pages < len(got)/57 {
		t.Fatalf("%d groups in %d pages, truth has %d", len(got), pages, len(e.truth.Groups))
	}
	got, _ = listGroups(t, viaGreep.Groups.List().Domain(e.sim.Sim.Domain()))
	want, _ = listGroups(t, direct.Groups.List().Domain(e.sim.Sim.Domain()))
	equal(t, "groups.list domain", got, want)

	// Pick the largest group, a group holding groups, and a user in several groups.
	var biggest, nesting workspacesim.TruthGroup
	memberships := map[string]int{}
	for _, g := range e.truth.Groups {
		if len(g.Members) > len(biggest.Members) {
			biggest = g
		}
		for _, m := range g.Members {
			if m.Type == greep.TypeGroup && nesting.ID == "" {
				nesting = g
			}
			if m.Type == greep.TypeUser {
				memberships[m.Email]++
			}
		}
	}
	if len(biggest.Members) <= 200 || nesting.ID == "" {
		t.Fatalf("tenant too small to test paging and nesting (biggest %d)", len(biggest.Members))
	}
	var busyUser string
	for u, n := range memberships {
		if n > memberships[busyUser] {
			busyUser = u
		}
	}
	got, _ = listGroups(t, viaGreep.Groups.List().UserKey(busyUser).MaxResults(3))
	want, _ = listGroups(t, direct.Groups.List().UserKey(busyUser).MaxResults(3))
	equal(t, "groups.list userKey", got, want)

	for _, g := range []workspacesim.TruthGroup{biggest, nesting} {
		for _, c := range []struct {
			name string
			mod  func(*admin.MembersListCall) *admin.MembersListCall
		}{
			{"all", func(c *admin.MembersListCall) *admin.MembersListCall { return c }},
			{"maxResults 33", func(c *admin.MembersListCall) *admin.MembersListCall { return c.MaxResults(33) }},
			{"roles OWNER,MANAGER", func(c *admin.MembersListCall) *admin.MembersListCall { return c.Roles("OWNER,MANAGER").MaxResults(2) }},
			{"includeDerivedMembership", func(c *admin.MembersListCall) *admin.MembersListCall {
				return c.IncludeDerivedMembership(true).MaxResults(50)
			}},
		} {
			equal(t, g.Email+" members "+c.name,
				listMembers(t, c.mod(viaGreep.Members.List(g.Email))),
				listMembers(t, c.mod(direct.Members.List(g.Email))))
		}

		gg, err := viaGreep.Groups.Get(g.ID).Do()
		if err != nil {
			t.Fatal(err)
		}
		gs, err := direct.Groups.Get(g.ID).Do()
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "groups.get", normGroups([]*admin.Group{gg}), normGroups([]*admin.Group{gs}))

		m := g.Members[len(g.Members)-1]
		mg, err := viaGreep.Members.Get(g.Email, m.Email).Do()
		if err != nil {
			t.Fatal(err)
		}
		ms, err := direct.Members.Get(g.Email, m.Email).Do()
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "members.get", normMembers([]*admin.Member{mg}), normMembers([]*admin.Member{ms}))

		for _, key := range []string{m.Email, busyUser, "nobody@" + e.sim.Sim.Domain()} {
			hg, err := viaGreep.Members.HasMember(g.Email, key).Do()
			if err != nil {
				t.Fatal(err)
			}
			hs, err := direct.Members.HasMember(g.Email, key).Do()
			if err != nil {
				t.Fatal(err)
			}
			if hg.IsMember != hs.IsMember {
				t.Errorf("hasMember(%s, %s): greep %v, sim %v", g.Email, key, hg.IsMember, hs.IsMember)
			}
		}
	}

	// Errors reach the Go client as *googleapi.Error with Google's codes and reasons.
	_, err := viaGreep.Groups.Get("nosuch@" + e.sim.Sim.Domain()).Do()
	if ge, ok := err.(*googleapi.Error); !ok || ge.Code != 404 || len(ge.Errors) != 1 || ge.Errors[0].Reason != "notFound" {
		t.Errorf("unknown group: %#v", err)
	}
	_, err = viaGreep.Members.Insert(biggest.Email, &admin.Member{Email: "x@" + e.sim.Sim.Domain()}).Do()
	if ge, ok := err.(*googleapi.Error); !ok || ge.Code != http.StatusMethodNotAllowed {
		t.Errorf("members.insert through Greep: %#v, want 405", err)
	}
	_, err = viaGreep.Members.List(biggest.Email).MaxResults(500).Do()
	if ge, ok := err.(*googleapi.Error); !ok || ge.Code != 400 {
		t.Errorf("maxResults 500: %#v, want 400", err)
	}
	_, err = directoryClient(t, e.greep.URL, "wrong").Groups.Get(biggest.Email).Do()
	if ge, ok := err.(*googleapi.Error); !ok || ge.Code != 401 {
		t.Errorf("wrong token: %#v, want 401", err)
	}

	// If-None-Match through the Go client: an unchanged member list is 304.
	first, err := viaGreep.Members.List(biggest.Email).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = viaGreep.Members.List(biggest.Email).IfNoneMatch(first.Etag).Do()
	if !googleapi.IsNotModified(err) {
		t.Errorf("members.list with If-None-Match of an unchanged list: %v, want 304", err)
	}
}
