package workspacesim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// start serves a simulator on loopback and builds the official clients against it, the
// way Greep's workers do.
func start(t *testing.T, cfg workspacesim.Config) (*workspacesim.Server, *workspace.Clients) {
	t.Helper()
	srv, err := workspacesim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, clientsFor(t, srv, srv.Sim.Admin())
}

func clientsFor(t *testing.T, srv *workspacesim.Server, subject string) *workspace.Clients {
	t.Helper()
	cl, err := workspace.New(context.Background(), workspace.Config{Endpoint: srv.URL, AdminSubject: subject})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// truth reads /sim/v1/truth over HTTP.
func truth(t *testing.T, srv *workspacesim.Server, group string) workspacesim.Truth {
	t.Helper()
	url := srv.URL + "/sim/v1/truth"
	if group != "" {
		url += "?group=" + group
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var tr workspacesim.Truth
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func apiErr(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("got %v (%T), want a *googleapi.Error %d %s", err, err, code, reason)
	}
	if gerr.Code != code || len(gerr.Errors) == 0 || gerr.Errors[0].Reason != reason {
		t.Fatalf("got %d %+v, want %d %s", gerr.Code, gerr.Errors, code, reason)
	}
	return gerr
}

func allGroups(t *testing.T, call *admin.GroupsListCall) []*admin.Group {
	t.Helper()
	var out []*admin.Group
	if err := call.Pages(context.Background(), func(p *admin.Groups) error {
		out = append(out, p.Groups...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func allMembers(t *testing.T, call *admin.MembersListCall) []*admin.Member {
	t.Helper()
	var out []*admin.Member
	if err := call.Pages(context.Background(), func(p *admin.Members) error {
		out = append(out, p.Members...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPagingEveryGroupAndMemberEqualsTruth(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 150, Groups: 250, Seed: 7})
	tr := truth(t, srv, "")

	groups := allGroups(t, cl.Directory.Groups.List().Customer("my_customer").MaxResults(37))
	if len(groups) != len(tr.Groups) {
		t.Fatalf("paged %d groups, truth has %d", len(groups), len(tr.Groups))
	}
	biggest := 0
	for i, g := range groups {
		want := tr.Groups[i]
		if g.Id != want.ID || g.Email != want.Email || g.Name != want.Name || g.DirectMembersCount != want.DirectMembersCount || g.Etag != want.ETag {
			t.Fatalf("group %d: got %s %s %q %d %s, truth %+v", i, g.Id, g.Email, g.Name, g.DirectMembersCount, g.Etag, want)
		}
		if !slices.Equal(g.Aliases, want.Aliases) && len(g.Aliases)+len(want.Aliases) > 0 {
			t.Fatalf("group %s aliases %v, truth %v", g.Email, g.Aliases, want.Aliases)
		}
		members := allMembers(t, cl.Directory.Members.List(g.Email).MaxResults(50))
		if len(members) != len(want.Members) {
			t.Fatalf("group %s: paged %d members, truth has %d", g.Email, len(members), len(want.Members))
		}
		for j, m := range members {
			w := want.Members[j]
			if m.Id != w.ID || m.Email != w.Email || m.Role != w.Role || m.Type != w.Type || m.Status != w.Status {
				t.Fatalf("group %s member %d: got %+v, truth %+v", g.Email, j, m, w)
			}
		}
		biggest = max(biggest, len(members))
	}
	if biggest <= 50 {
		t.Fatalf("the largest group has %d members: paging was never exercised", biggest)
	}

	// By domain gives the same list; users page too.
	if byDomain := allGroups(t, cl.Directory.Groups.List().Domain(srv.Sim.Domain())); len(byDomain) != len(groups) {
		t.Fatalf("by domain: %d groups, by customer %d", len(byDomain), len(groups))
	}
	var users []*admin.User
	if err := cl.Directory.Users.List().Customer("my_customer").MaxResults(40).Pages(context.Background(), func(p *admin.Users) error {
		users = append(users, p.Users...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(users) != len(tr.Users) {
		t.Fatalf("paged %d users, truth has %d", len(users), len(tr.Users))
	}
	for i, u := range users {
		if u.Id != tr.Users[i].ID || u.PrimaryEmail != tr.Users[i].PrimaryEmail || u.Suspended != tr.Users[i].Suspended {
			t.Fatalf("user %d: %s %s, truth %+v", i, u.Id, u.PrimaryEmail, tr.Users[i])
		}
	}
}

func TestUserKeyRolesAndHasMemberAgreeWithTruth(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 80, Groups: 200, Seed: 3, QuotaPerMinute: -1})
	tr := truth(t, srv, "")
	byEmail := map[string]workspacesim.TruthGroup{}
	for _, g := range tr.Groups {
		byEmail[g.Email] = g
	}

	// userKey: the groups a user is directly in, for a handful of users and a group.
	for _, u := range tr.Users[:10] {
		var want []string
		for _, g := range tr.Groups {
			for _, m := range g.Members {
				if m.Email == u.PrimaryEmail {
					want = append(want, g.Email)
				}
			}
		}
		var got []string
		for _, g := range allGroups(t, cl.Directory.Groups.List().UserKey(u.PrimaryEmail).MaxResults(3)) {
			got = append(got, g.Email)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("userKey %s: got %v, truth %v", u.PrimaryEmail, got, want)
		}
		// By id too.
		if byID := allGroups(t, cl.Directory.Groups.List().UserKey(u.ID)); len(byID) != len(want) {
			t.Fatalf("userKey %s (id): %d groups, want %d", u.ID, len(byID), len(want))
		}
	}

	// roles filter.
	checked := 0
	for _, g := range tr.Groups {
		if len(g.Members) < 3 {
			continue
		}
		var want []string
		for _, m := range g.Members {
			if m.Role == "OWNER" || m.Role == "MANAGER" {
				want = append(want, m.ID)
			}
		}
		var got []string
		for _, m := range allMembers(t, cl.Directory.Members.List(g.Email).Roles("OWNER,MANAGER").MaxResults(1)) {
			got = append(got, m.Id)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s roles OWNER,MANAGER: got %v, truth %v", g.Email, got, want)
		}
		if checked++; checked == 20 {
			break
		}
	}

	// hasMember: direct, nested (through a child group) and absent, computed from truth.
	reach := func(root string) map[string]bool {
		seen, queue := map[string]bool{}, []string{root}
		visited := map[string]bool{}
		for len(queue) > 0 {
			g := byEmail[queue[0]]
			queue = queue[1:]
			if visited[g.Email] {
				continue
			}
			visited[g.Email] = true
			for _, m := range g.Members {
				seen[m.Email] = true
				if m.Type == "GROUP" {
					queue = append(queue, m.Email)
				}
			}
		}
		return seen
	}
	nested := 0
	for i, g := range tr.Groups {
		hasChild := slices.ContainsFunc(g.Members, func(m workspacesim.TruthMember) bool { return m.Type == "GROUP" })
		if i >= 5 && !hasChild {
			continue
		}
		members := reach(g.Email)
		for _, u := range tr.Users[:20] {
			got, err := cl.Directory.Members.HasMember(g.Email, u.PrimaryEmail).Do()
			if err != nil {
				t.Fatal(err)
			}
			if got.IsMember != members[u.PrimaryEmail] {
				t.Fatalf("hasMember(%s, %s) = %v, truth %v", g.Email, u.PrimaryEmail, got.IsMember, members[u.PrimaryEmail])
			}
		}
		if hasChild {
			nested++
		}
		if nested > 3 {
			break
		}
	}
	if nested == 0 {
		t.Fatal("no nested group was checked")
	}

	// get by alias and by id; unknown keys are 404 notFound.
	for _, g := range tr.Groups {
		if len(g.Aliases) == 0 {
			continue
		}
		got, err := cl.Directory.Groups.Get(g.Aliases[0]).Do()
		if err != nil || got.Email != g.Email {
			t.Fatalf("get by alias %s: %v %v", g.Aliases[0], got, err)
		}
		break
	}
	if got, err := cl.Directory.Groups.Get(tr.Groups[0].ID).Do(); err != nil || got.Email != tr.Groups[0].Email {
		t.Fatalf("get by id: %v %v", got, err)
	}
	_, err := cl.Directory.Groups.Get("nope@" + srv.Sim.Domain()).Do()
	apiErr(t, err, 404, "notFound")
	_, err = cl.Directory.Members.Get(tr.Groups[0].Email, "nobody@nowhere.example").Do()
	apiErr(t, err, 404, "notFound")
}

func TestDerivedMembershipExpandsNestedGroupsOnce(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 30, Groups: 40, Seed: 5})
	d := srv.Sim.Domain()
	if err := srv.Sim.Apply([]workspacesim.Mutation{
		{Op: "createGroup", Group: "outer@" + d},
		{Op: "createGroup", Group: "inner@" + d},
		{Op: "addMember", Group: "outer@" + d, Member: "inner@" + d},
		{Op: "addMember", Group: "inner@" + d, Member: "outer@" + d}, // a cycle
		{Op: "addMember", Group: "inner@" + d, Member: srv.Sim.Sentinel()},
		{Op: "addMember", Group: "outer@" + d, Member: srv.Sim.Sentinel()},
		{Op: "addMember", Group: "inner@" + d, Member: "deep@outside.example"},
	}); err != nil {
		t.Fatal(err)
	}
	// Only through inner: hasMember sees it, a direct get does not.
	if has, err := cl.Directory.Members.HasMember("outer@"+d, "deep@outside.example").Do(); err != nil || !has.IsMember {
		t.Fatalf("hasMember through a nested group: %+v %v", has, err)
	}
	_, err := cl.Directory.Members.Get("outer@"+d, "deep@outside.example").Do()
	apiErr(t, err, 404, "notFound")
	direct := allMembers(t, cl.Directory.Members.List("outer@"+d))
	derived := allMembers(t, cl.Directory.Members.List("outer@"+d).IncludeDerivedMembership(true))
	if len(direct) != 2 {
		t.Fatalf("outer has %d direct members, want 2", len(direct))
	}
	seen := map[string]int{}
	for _, m := range derived {
		seen[m.Email]++
	}
	if seen[srv.Sim.Sentinel()] != 1 || seen["inner@"+d] != 1 || seen["outer@"+d] != 1 || seen["deep@outside.example"] != 1 || len(derived) != 4 {
		t.Fatalf("derived members %v", seen)
	}
}

func TestEtagAndCountFollowMembership(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 20, Groups: 30, Seed: 9})
	g := truth(t, srv, "").Groups[0]
	before, err := cl.Directory.Groups.Get(g.Email).Do()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "someone@outside.example"}}); err != nil {
		t.Fatal(err)
	}
	after, err := cl.Directory.Groups.Get(g.Email).Do()
	if err != nil {
		t.Fatal(err)
	}
	if after.Etag == before.Etag || after.DirectMembersCount != before.DirectMembersCount+1 {
		t.Fatalf("etag %s -> %s, count %d -> %d", before.Etag, after.Etag, before.DirectMembersCount, after.DirectMembersCount)
	}
	m, err := cl.Directory.Members.Get(g.Email, "someone@outside.example").Do()
	if err != nil || m.Type != "USER" || m.Role != "MEMBER" {
		t.Fatalf("external member: %+v %v", m, err)
	}
	// A role change changes the etag too; an unrelated group keeps its etag.
	other := truth(t, srv, "").Groups[1]
	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "updateMember", Group: g.Email, Member: "someone@outside.example", Role: "MANAGER"}}); err != nil {
		t.Fatal(err)
	}
	again, _ := cl.Directory.Groups.Get(g.Email).Do()
	if again.Etag == after.Etag {
		t.Fatal("etag unchanged by a role change")
	}
	if o, _ := cl.Directory.Groups.Get(other.Email).Do(); o.Etag != other.ETag {
		t.Fatalf("etag of an untouched group changed: %s -> %s", other.ETag, o.Etag)
	}
}

func TestReadsLagWrites(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 20, Groups: 30, Seed: 2, ReadLag: time.Minute})
	g := truth(t, srv, "").Groups[0]
	if err := srv.Sim.Apply([]workspacesim.Mutation{{Op: "addMember", Group: g.Email, Member: "late@outside.example"}}); err != nil {
		t.Fatal(err)
	}
	_, err := cl.Directory.Members.Get(g.Email, "late@outside.example").Do()
	apiErr(t, err, 404, "notFound")
	if tg := truth(t, srv, g.Email).Groups[0]; tg.DirectMembersCount != g.DirectMembersCount+1 {
		t.Fatalf("truth did not see the write: %d members", tg.DirectMembersCount)
	}
	srv.Sim.Advance(2 * time.Minute)
	if _, err := cl.Directory.Members.Get(g.Email, "late@outside.example").Do(); err != nil {
		t.Fatalf("after the lag: %v", err)
	}
}

func TestBadListParametersAreRefused(t *testing.T) {
	_, cl := start(t, workspacesim.Config{Users: 5, Groups: 5})
	_, err := cl.Directory.Groups.List().Do()
	apiErr(t, err, 400, "invalid")
	_, err = cl.Directory.Groups.List().Customer("my_customer").MaxResults(201).Do()
	apiErr(t, err, 400, "invalid")
	_, err = cl.Directory.Groups.List().Customer("my_customer").PageToken("garbage").Do()
	apiErr(t, err, 400, "invalid")
	_, err = cl.Directory.Users.List().Customer("my_customer").MaxResults(501).Do()
	apiErr(t, err, 400, "invalid")
	_, err = cl.Directory.Groups.List().Domain("other.example").Do()
	apiErr(t, err, 403, "forbidden")
	if !strings.Contains(err.Error(), "other.example") {
		t.Fatalf("message does not name the domain: %v", err)
	}
}

func TestPagesStayRightWhileTheTenantChanges(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 20, Groups: 60, Seed: 12})
	before := truth(t, srv, "").Groups
	page, err := cl.Directory.Groups.List().Customer("my_customer").MaxResults(20).Do()
	if err != nil {
		t.Fatal(err)
	}
	// Between pages: a group sorting before the cursor appears, one after it goes.
	gone := before[40].Email
	if err := srv.Sim.Apply([]workspacesim.Mutation{
		{Op: "createGroup", Group: "aaa-new@" + srv.Sim.Domain()},
		{Op: "deleteGroup", Group: gone},
	}); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for token := page.NextPageToken; token != ""; {
		p, err := cl.Directory.Groups.List().Customer("my_customer").MaxResults(20).PageToken(token).Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range p.Groups {
			rest = append(rest, g.Email)
		}
		token = p.NextPageToken
	}
	var want []string
	for _, g := range before[20:] {
		if g.Email != gone {
			want = append(want, g.Email)
		}
	}
	if !slices.Equal(rest, want) {
		t.Fatalf("later pages: %d groups, want the %d after the cursor (none twice, none skipped)", len(rest), len(want))
	}
}
