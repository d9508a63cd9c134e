package workspacesim

import (
	"slices"
	"strings"
	"time"
)

// Member types, statuses and roles as the Directory API spells them.
const (
	typeUser     = "USER"
	typeGroup    = "GROUP"
	typeCustomer = "CUSTOMER"

	statusActive    = "ACTIVE"
	statusSuspended = "SUSPENDED"
	statusArchived  = "ARCHIVED"

	roleOwner   = "OWNER"
	roleManager = "MANAGER"
	roleMember  = "MEMBER"
)

// principal is anything that can be a member: a user of the tenant, an outside address, a
// group, or the customer ("everyone in the domain"). The actual and the lagged state share
// them: what changes in one (a user's status, aliases, or email on a rename) changes at
// once for reads too, as a user's state does at Google.
type principal struct {
	id      string
	email   string // lower case; "" for the customer
	typ     string
	status  string
	aliases []string
	// nonEditable are the addresses Google gives every user and group of the tenant in
	// its test domain (users.list's and groups.list's nonEditableAliases).
	nonEditable []string
	external    bool
	user        *user // for the tenant's users
}

// user is one user of the tenant.
type user struct {
	given, family string
	suspended     bool
	archived      bool
	admin         bool
	created       time.Time
}

// membership is one direct member of a group.
type membership struct {
	p    *principal
	role string
}

// group is a group as one state (actual or lagged) sees it.
type group struct {
	p           *principal
	name        string
	description string
	members     []membership // sorted by memberLess
	settings    *settingValues
	version     uint64 // bumped by every change of the group or its membership: the etag's source
}

func memberLess(a, b *principal) int {
	if c := strings.Compare(a.email, b.email); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// find returns the index of p's membership, or where it would go, and whether it is there.
func (g *group) find(p *principal) (int, bool) {
	return slices.BinarySearchFunc(g.members, p, func(m membership, p *principal) int { return memberLess(m.p, p) })
}

// state is one version of the tenant's groups: the actual one, or the one reads see
// (ReadLag behind it). Everything a call needs is an index lookup or a binary search.
type state struct {
	groups   []*group // sorted by email
	byP      map[*principal]*group
	memberOf map[*principal][]*group // direct memberships, sorted by group email
	gen      uint64                  // bumped by every change; derived-member caches key on it

	derivedGen uint64
	derived    map[*group][]membership
}

func newState() *state {
	return &state{byP: map[*principal]*group{}, memberOf: map[*principal][]*group{}}
}

func groupIndex(gs []*group, email string) (int, bool) {
	return slices.BinarySearchFunc(gs, email, func(g *group, e string) int { return strings.Compare(g.p.email, e) })
}

// clone copies the state; principals and settings are immutable and shared.
func (s *state) clone() *state {
	c := &state{
		groups:   make([]*group, len(s.groups)),
		byP:      make(map[*principal]*group, len(s.byP)),
		memberOf: make(map[*principal][]*group, len(s.memberOf)),
		gen:      s.gen,
	}
	for i, g := range s.groups {
		cg := *g
		cg.members = slices.Clone(g.members)
		c.groups[i] = &cg
		c.byP[g.p] = &cg
	}
	for p, gs := range s.memberOf {
		cgs := make([]*group, len(gs))
		for i, g := range gs {
			cgs[i] = c.byP[g.p]
		}
		c.memberOf[p] = cgs
	}
	return c
}

// change is a validated, resolved mutation. Applying one to a state cannot fail, so the
// lagged state replays exactly what the actual state went through.
type change struct {
	op          string
	group       *principal
	member      *principal
	role        string
	settings    *settingValues // createGroup, setSettings
	name        string         // createGroup, setSettings (if setName)
	description string
	setName     bool
	setDesc     bool
}

func (s *state) apply(c change) {
	s.gen++
	switch c.op {
	case opCreateGroup:
		g := &group{p: c.group, name: c.name, description: c.description, settings: c.settings, version: 1}
		i, _ := groupIndex(s.groups, g.p.email)
		s.groups = slices.Insert(s.groups, i, g)
		s.byP[g.p] = g
	case opDeleteGroup:
		g := s.byP[c.group]
		for _, m := range g.members {
			s.unlink(m.p, g)
		}
		for _, parent := range s.memberOf[g.p] {
			if i, ok := parent.find(g.p); ok {
				parent.members = slices.Delete(parent.members, i, i+1)
				parent.version++
			}
		}
		delete(s.memberOf, g.p)
		delete(s.byP, g.p)
		if i, ok := groupIndex(s.groups, g.p.email); ok {
			s.groups = slices.Delete(s.groups, i, i+1)
		}
	case opAddMember:
		g := s.byP[c.group]
		i, _ := g.find(c.member)
		g.members = slices.Insert(g.members, i, membership{p: c.member, role: c.role})
		g.version++
		gs := s.memberOf[c.member]
		j, _ := groupIndex(gs, g.p.email)
		s.memberOf[c.member] = slices.Insert(gs, j, g)
	case opRemoveMember:
		g := s.byP[c.group]
		if i, ok := g.find(c.member); ok {
			g.members = slices.Delete(g.members, i, i+1)
			g.version++
		}
		s.unlink(c.member, g)
	case opUpdateMember:
		g := s.byP[c.group]
		if i, ok := g.find(c.member); ok {
			g.members[i].role = c.role
			g.version++
		}
	case opSetSettings:
		g := s.byP[c.group]
		// The Directory etag describes the Directory resource: a name or description
		// change moves it, a Groups Settings field alone does not (Greep must not count on
		// it to notice settings changes).
		g.settings = c.settings
		if c.setName {
			g.name = c.name
		}
		if c.setDesc {
			g.description = c.description
		}
		if c.setName || c.setDesc {
			g.version++
		}
	}
}

// unlink removes g from p's direct memberships.
func (s *state) unlink(p *principal, g *group) {
	gs := s.memberOf[p]
	if i, ok := groupIndex(gs, g.p.email); ok && gs[i] == g {
		gs = slices.Delete(gs, i, i+1)
	}
	if len(gs) == 0 {
		delete(s.memberOf, p)
	} else {
		s.memberOf[p] = gs
	}
}

// derivedMembers is includeDerivedMembership: the direct members and, through nested
// groups (cycles included), every indirect member once, sorted like direct members.
// The result is cached until the state next changes.
func (s *state) derivedMembers(g *group) []membership {
	if s.derivedGen != s.gen || s.derived == nil {
		s.derived, s.derivedGen = map[*group][]membership{}, s.gen
	}
	if ms, ok := s.derived[g]; ok {
		return ms
	}
	seen := map[*principal]bool{}
	visited := map[*group]bool{g: true}
	var out []membership
	queue := []*group{g}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, m := range cur.members {
			if !seen[m.p] {
				seen[m.p] = true
				out = append(out, m)
			}
			if child, ok := s.byP[m.p]; ok && !visited[child] {
				visited[child] = true
				queue = append(queue, child)
			}
		}
	}
	slices.SortFunc(out, func(a, b membership) int { return memberLess(a.p, b.p) })
	s.derived[g] = out
	return out
}

// hasMember is hasMember: direct or through nested groups.
func (s *state) hasMember(g *group, p *principal) bool {
	visited := map[*group]bool{}
	queue := []*group{g}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if visited[cur] {
			continue
		}
		visited[cur] = true
		if _, ok := cur.find(p); ok {
			return true
		}
		for _, m := range cur.members {
			if child, ok := s.byP[m.p]; ok && !visited[child] {
				queue = append(queue, child)
			}
		}
	}
	return false
}
