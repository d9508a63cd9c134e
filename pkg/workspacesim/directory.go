package workspacesim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JSON shapes of the Directory API, with Google's field names.

type dirGroup struct {
	Kind               string   `json:"kind"`
	ID                 string   `json:"id"`
	Etag               string   `json:"etag"`
	Email              string   `json:"email"`
	Name               string   `json:"name"`
	Description        string   `json:"description,omitempty"`
	DirectMembersCount string   `json:"directMembersCount"`
	AdminCreated       bool     `json:"adminCreated"`
	Aliases            []string `json:"aliases,omitempty"`
	NonEditableAliases []string `json:"nonEditableAliases,omitempty"`
}

type dirGroups struct {
	Kind          string      `json:"kind"`
	Etag          string      `json:"etag"`
	Groups        []*dirGroup `json:"groups,omitempty"`
	NextPageToken string      `json:"nextPageToken,omitempty"`
}

type dirMember struct {
	Kind             string `json:"kind"`
	Etag             string `json:"etag"`
	ID               string `json:"id"`
	Email            string `json:"email,omitempty"`
	Role             string `json:"role"`
	Type             string `json:"type"`
	Status           string `json:"status"`
	DeliverySettings string `json:"delivery_settings,omitempty"`
}

type dirMembers struct {
	Kind          string       `json:"kind"`
	Etag          string       `json:"etag"`
	Members       []*dirMember `json:"members,omitempty"`
	NextPageToken string       `json:"nextPageToken,omitempty"`
}

type dirUserName struct {
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
	FullName   string `json:"fullName"`
}

type dirEmail struct {
	Address string `json:"address"`
	Primary bool   `json:"primary,omitempty"`
}

type dirUser struct {
	Kind                       string      `json:"kind"`
	ID                         string      `json:"id"`
	Etag                       string      `json:"etag"`
	PrimaryEmail               string      `json:"primaryEmail"`
	Name                       dirUserName `json:"name"`
	IsAdmin                    bool        `json:"isAdmin"`
	IsDelegatedAdmin           bool        `json:"isDelegatedAdmin"`
	Suspended                  bool        `json:"suspended"`
	Archived                   bool        `json:"archived"`
	AgreedToTerms              bool        `json:"agreedToTerms"`
	ChangePasswordAtNextLogin  bool        `json:"changePasswordAtNextLogin"`
	IPWhitelisted              bool        `json:"ipWhitelisted"`
	IsMailboxSetup             bool        `json:"isMailboxSetup"`
	IncludeInGlobalAddressList bool        `json:"includeInGlobalAddressList"`
	Emails                     []dirEmail  `json:"emails"`
	Aliases                    []string    `json:"aliases,omitempty"`
	NonEditableAliases         []string    `json:"nonEditableAliases,omitempty"`
	CustomerID                 string      `json:"customerId"`
	OrgUnitPath                string      `json:"orgUnitPath"`
	CreationTime               string      `json:"creationTime"`
}

type dirUsers struct {
	Kind          string     `json:"kind"`
	Etag          string     `json:"etag"`
	Users         []*dirUser `json:"users,omitempty"`
	NextPageToken string     `json:"nextPageToken,omitempty"`
}

type hasMemberAnswer struct {
	IsMember bool `json:"isMember"`
}

func groupJSON(g *group) *dirGroup {
	return &dirGroup{
		Kind:               "admin#directory#group",
		ID:                 g.p.id,
		Etag:               groupETag(g),
		Email:              g.p.email,
		Name:               g.name,
		Description:        g.description,
		DirectMembersCount: strconv.Itoa(len(g.members)),
		AdminCreated:       true,
		Aliases:            g.p.aliases,
		NonEditableAliases: g.p.nonEditable,
	}
}

// groupETag changes whenever the group or its membership does.
func groupETag(g *group) string { return etag("group", g.p.id, strconv.FormatUint(g.version, 10)) }

func memberJSON(g *group, m membership) *dirMember {
	return &dirMember{
		Kind:   "admin#directory#member",
		Etag:   etag("member", g.p.id, m.p.id, m.role),
		ID:     m.p.id,
		Email:  m.p.email,
		Role:   m.role,
		Type:   m.p.typ,
		Status: m.p.status,
	}
}

func (s *Sim) userJSON(p *principal) *dirUser {
	u := p.user
	return &dirUser{
		Kind:                       "admin#directory#user",
		ID:                         p.id,
		Etag:                       etag("user", p.id),
		PrimaryEmail:               p.email,
		Name:                       dirUserName{GivenName: title(u.given), FamilyName: title(u.family), FullName: title(u.given) + " " + title(u.family)},
		IsAdmin:                    u.admin,
		Suspended:                  u.suspended,
		Archived:                   u.archived,
		AgreedToTerms:              true,
		IsMailboxSetup:             true,
		IncludeInGlobalAddressList: true,
		Emails:                     []dirEmail{{Address: p.email, Primary: true}},
		Aliases:                    p.aliases,
		NonEditableAliases:         p.nonEditable,
		CustomerID:                 s.t.customer.id,
		OrgUnitPath:                "/",
		CreationTime:               u.created.UTC().Format(time.RFC3339),
	}
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// checkScope validates the customer and domain parameters of a list call.
func (s *Sim) checkScope(c *call) *apiError {
	q := c.r.URL.Query()
	if cust := q.Get("customer"); cust != "" && cust != "my_customer" && cust != s.t.customer.id {
		return errorf(http.StatusBadRequest, "badRequest", "Bad Request: unknown customer %q", cust)
	}
	if d := q.Get("domain"); d != "" && lower(d) != s.cfg.Domain {
		return errorf(http.StatusForbidden, "forbidden", "Not Authorized to access this resource/api: domain %q", d)
	}
	if q.Get("query") != "" {
		return badRequest("Invalid Input: the simulator does not support the query parameter")
	}
	if ob := q.Get("orderBy"); ob != "" && ob != "email" {
		return badRequest("Invalid Input: orderBy %q (the simulator orders by email only)", ob)
	}
	if so := q.Get("sortOrder"); so != "" && so != "ASCENDING" {
		return badRequest("Invalid Input: sortOrder %q (the simulator sorts ASCENDING only)", so)
	}
	return nil
}

// group resolves a group key (email, alias or id) in the state the call reads.
func (s *Sim) group(st *state, key, param string) (*group, *apiError) {
	if p := s.t.byKey[lower(key)]; p != nil {
		if g := st.byP[p]; g != nil {
			return g, nil
		}
	}
	return nil, notFound("Resource Not Found: %s", param)
}

func (s *Sim) groupsList(c *call) (any, *apiError) {
	q := c.r.URL.Query()
	userKey := q.Get("userKey")
	if userKey != "" && q.Get("customer") != "" {
		return nil, badRequest("Bad Request: customer and userKey cannot be combined")
	}
	if userKey == "" && q.Get("customer") == "" && q.Get("domain") == "" {
		return nil, badRequest("Bad Request: one of customer, domain or userKey is required")
	}
	if err := s.checkScope(c); err != nil {
		return nil, err
	}
	limit, err := maxResults(c, 200, 200)
	if err != nil {
		return nil, err
	}
	groups := c.st.groups
	if userKey != "" {
		key := lower(userKey)
		if _, d, _ := strings.Cut(key, "@"); d != "" && !s.ownDomain(d) {
			return nil, badRequest("Invalid Input: userKey %q is outside the domain", userKey)
		}
		p := s.t.byKey[key]
		if p == nil || p.external {
			return nil, notFound("Resource Not Found: userKey")
		}
		groups = c.st.memberOf[p]
	}
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		cur, err := decodeToken("g", tok)
		if err != nil {
			return nil, err
		}
		start, _ = groupIndex(groups, cur[0])
		if start < len(groups) && groups[start].p.email == cur[0] {
			start++
		}
	}
	end := min(start+limit, len(groups))
	out := &dirGroups{Kind: "admin#directory#groups", Etag: etag("groups", strconv.FormatUint(c.st.gen, 10))}
	for _, g := range groups[start:end] {
		out.Groups = append(out.Groups, groupJSON(g))
	}
	if end < len(groups) {
		out.NextPageToken = encodeToken("g", groups[end-1].p.email)
	}
	return out, nil
}

func (s *Sim) groupsGet(c *call) (any, *apiError) {
	g, err := s.group(c.st, c.r.PathValue("groupKey"), "groupKey")
	if err != nil {
		return nil, err
	}
	return groupJSON(g), nil
}

var validRoles = map[string]bool{roleOwner: true, roleManager: true, roleMember: true}

func (s *Sim) membersList(c *call) (any, *apiError) {
	g, err := s.group(c.st, c.r.PathValue("groupKey"), "groupKey")
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	limit, err := maxResults(c, 200, 200)
	if err != nil {
		return nil, err
	}
	var roles map[string]bool
	if rs := q.Get("roles"); rs != "" {
		roles = map[string]bool{}
		for _, r := range strings.Split(rs, ",") {
			r = strings.ToUpper(strings.TrimSpace(r))
			if !validRoles[r] {
				return nil, badRequest("Invalid Input: roles %q (allowed: OWNER, MANAGER, MEMBER)", rs)
			}
			roles[r] = true
		}
	}
	derived, err := boolParam(c, "includeDerivedMembership")
	if err != nil {
		return nil, err
	}
	ms := g.members
	if derived {
		ms = c.st.derivedMembers(g)
	}
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		cur, err := decodeToken("m", tok)
		if err != nil || len(cur) != 2 {
			return nil, badRequest("Invalid Input: pageToken")
		}
		after := &principal{email: cur[0], id: cur[1]}
		start, _ = slices.BinarySearchFunc(ms, after, func(m membership, p *principal) int { return memberLess(m.p, p) })
		if start < len(ms) && memberLess(ms[start].p, after) == 0 {
			start++
		}
	}
	out := &dirMembers{Kind: "admin#directory#members", Etag: groupETag(g)}
	i := start
	for ; i < len(ms) && len(out.Members) < limit; i++ {
		if roles == nil || roles[ms[i].role] {
			out.Members = append(out.Members, memberJSON(g, ms[i]))
		}
	}
	// Only promise another page if one more member would pass the filter.
	for j := i; j < len(ms); j++ {
		if roles == nil || roles[ms[j].role] {
			last := ms[i-1].p
			out.NextPageToken = encodeToken("m", last.email, last.id)
			break
		}
	}
	return out, nil
}

func (s *Sim) membersGet(c *call) (any, *apiError) {
	g, err := s.group(c.st, c.r.PathValue("groupKey"), "groupKey")
	if err != nil {
		return nil, err
	}
	if p := s.t.byKey[lower(c.r.PathValue("memberKey"))]; p != nil {
		if i, ok := g.find(p); ok {
			m := memberJSON(g, g.members[i])
			m.DeliverySettings = "ALL_MAIL"
			return m, nil
		}
	}
	return nil, notFound("Resource Not Found: memberKey")
}

func (s *Sim) membersHasMember(c *call) (any, *apiError) {
	g, err := s.group(c.st, c.r.PathValue("groupKey"), "groupKey")
	if err != nil {
		return nil, err
	}
	key := c.r.PathValue("memberKey")
	p := s.t.byKey[lower(key)]
	if p == nil {
		if !strings.Contains(key, "@") {
			return nil, notFound("Resource Not Found: memberKey")
		}
		return &hasMemberAnswer{IsMember: false}, nil
	}
	return &hasMemberAnswer{IsMember: c.st.hasMember(g, p)}, nil
}

func (s *Sim) usersList(c *call) (any, *apiError) {
	q := c.r.URL.Query()
	if q.Get("customer") == "" && q.Get("domain") == "" {
		return nil, badRequest("Bad Request: one of customer or domain is required")
	}
	if err := s.checkScope(c); err != nil {
		return nil, err
	}
	limit, err := maxResults(c, 100, 500)
	if err != nil {
		return nil, err
	}
	users := s.t.users
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		cur, err := decodeToken("u", tok)
		if err != nil {
			return nil, err
		}
		start, _ = slices.BinarySearchFunc(users, cur[0], func(p *principal, e string) int { return strings.Compare(p.email, e) })
		if start < len(users) && users[start].email == cur[0] {
			start++
		}
	}
	end := min(start+limit, len(users))
	out := &dirUsers{Kind: "admin#directory#users", Etag: etag("users", strconv.Itoa(len(users)))}
	for _, p := range users[start:end] {
		out.Users = append(out.Users, s.userJSON(p))
	}
	if end < len(users) {
		out.NextPageToken = encodeToken("u", users[end-1].email)
	}
	return out, nil
}

func (s *Sim) usersGet(c *call) (any, *apiError) {
	p := s.t.byKey[lower(c.r.PathValue("userKey"))]
	if p == nil || p.user == nil {
		return nil, notFound("Resource Not Found: userKey")
	}
	return s.userJSON(p), nil
}
