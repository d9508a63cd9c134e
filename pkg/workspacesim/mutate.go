package workspacesim

import (
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"
)

// Mutation ops.
const (
	opAddMember    = "addMember"
	opRemoveMember = "removeMember"
	opUpdateMember = "updateMember"
	opCreateGroup  = "createGroup"
	opDeleteGroup  = "deleteGroup"
	opSetSettings  = "setSettings"
)

// Mutation is one change to the tenant, as /sim/v1/mutations takes it.
type Mutation struct {
	// Op is addMember, removeMember, updateMember (role), createGroup, deleteGroup or
	// setSettings; or, on a user, suspendUser, unsuspendUser, archiveUser, unarchiveUser,
	// addUserAlias or removeUserAlias (users.go), createUser, renameUser or deleteUser
	// (userlife.go).
	Op string `json:"op"`
	// User is the user of a user op (primary email, alias or id); for createUser, the new
	// user's primary email.
	User string `json:"user,omitempty"`
	// Email is the new primary email of renameUser.
	Email string `json:"email,omitempty"`
	// Alias is the address addUserAlias adds or removeUserAlias removes.
	Alias string `json:"alias,omitempty"`
	// Group is the group's email (or alias or id, except for createGroup).
	Group string `json:"group"`
	// Member is the member's email (or alias or id); an unknown outside address becomes a
	// new external member.
	Member string `json:"member,omitempty"`
	// Role is OWNER, MANAGER or MEMBER (MEMBER if empty on addMember).
	Role string `json:"role,omitempty"`
	// Name names a created group (the email's local part if empty).
	Name string `json:"name,omitempty"`
	// Settings are Groups Settings fields to set (setSettings, createGroup), validated as
	// a PATCH is.
	Settings map[string]string `json:"settings,omitempty"`
	// Actor is who made the change (the admin if empty): the activity's actor.email.
	Actor string `json:"actor,omitempty"`
	// Application is the Reports application the activity is logged under: admin (the
	// default) or groups.
	Application string `json:"application,omitempty"`
}

// check validates a mutation on its own, before anything is applied.
func (m Mutation) check() error {
	if userOps[m.Op] {
		if strings.TrimSpace(m.User) == "" {
			return fmt.Errorf("%s needs a user", m.Op)
		}
		if (m.Op == opAddUserAlias || m.Op == opRemoveUserAlias) && strings.TrimSpace(m.Alias) == "" {
			return fmt.Errorf("%s needs an alias", m.Op)
		}
		if m.Op == opRenameUser && strings.TrimSpace(m.Email) == "" {
			return fmt.Errorf("%s needs the new email", m.Op)
		}
		return nil
	}
	switch m.Op {
	case opAddMember, opRemoveMember, opUpdateMember:
		if strings.TrimSpace(m.Member) == "" {
			return fmt.Errorf("%s needs a member", m.Op)
		}
	case opCreateGroup, opDeleteGroup, opSetSettings:
	case "":
		return errors.New("op is missing")
	default:
		return fmt.Errorf("unknown op %q (want addMember, removeMember, updateMember, createGroup, deleteGroup, setSettings, suspendUser, unsuspendUser, archiveUser, unarchiveUser, addUserAlias, removeUserAlias, createUser, renameUser or deleteUser)", m.Op)
	}
	if strings.TrimSpace(m.Group) == "" {
		return fmt.Errorf("%s needs a group", m.Op)
	}
	if m.Role != "" && !validRoles[strings.ToUpper(m.Role)] {
		return fmt.Errorf("role %q is not OWNER, MANAGER or MEMBER", m.Role)
	}
	if m.Op == opUpdateMember && m.Role == "" {
		return errors.New("updateMember needs a role")
	}
	if m.Op == opSetSettings && len(m.Settings) == 0 {
		return errors.New("setSettings needs settings")
	}
	if m.Application != "" && m.Application != "admin" && m.Application != "groups" {
		return fmt.Errorf("application %q is not admin or groups", m.Application)
	}
	return nil
}

// Apply makes the mutations in order. Each yields its Reports activities and push
// notifications. All are checked for form before any is applied; one that cannot apply
// to the tenant (unknown group, member already there, ...) stops the batch there, the
// ones before it staying applied, and the error says so.
func (s *Sim) Apply(muts []Mutation) error {
	for i, m := range muts {
		if err := m.check(); err != nil {
			return fmt.Errorf("mutation %d: %w (nothing applied)", i, err)
		}
	}
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range muts {
		if err := s.applyOne(m, now); err != nil {
			return fmt.Errorf("mutation %d (%s %s): %s (the %d before it were applied)", i, m.Op, m.Group, err.Message, i)
		}
	}
	return nil
}

// applyOne resolves and applies one mutation to the actual state. Caller holds mu.
func (s *Sim) applyOne(m Mutation, now time.Time) *apiError {
	actor := lower(m.Actor)
	if actor == "" {
		actor = s.Admin()
	}
	app := m.Application
	if app == "" {
		app = "admin"
	}
	role := strings.ToUpper(m.Role)
	if role == "" {
		role = roleMember
	}
	if m.Op == opCreateGroup {
		return s.createGroup(m, actor, app, now)
	}
	if userOps[m.Op] {
		return s.applyUserOp(m, actor, now)
	}
	g, err := s.group(s.actual, m.Group, "group")
	if err != nil {
		return err
	}
	c := change{op: m.Op, group: g.p, role: role}
	var events []event
	switch m.Op {
	case opDeleteGroup:
		events = append(events, event{name: "DELETE_GROUP", params: groupParams(g)})
	case opSetSettings:
		changes := make(map[string]any, len(m.Settings))
		for k, v := range m.Settings {
			changes[k] = v
		}
		c, events, err = s.settingsChange(g, changes)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil // the values were already so: nothing changes, nothing is logged
		}
	default:
		p, err := s.memberPrincipal(m.Member, m.Op == opAddMember)
		if err != nil {
			return err
		}
		c.member = p
		if p == g.p {
			return badRequest("Invalid Input: a group cannot be a member of itself")
		}
		i, in := g.find(p)
		params := append(groupParams(g), param{"USER_EMAIL", memberLabel(p)})
		switch {
		case m.Op == opAddMember && in:
			return errorf(409, "duplicate", "Member already exists: %s", m.Member)
		case m.Op != opAddMember && !in:
			return notFound("Resource Not Found: member %s", m.Member)
		case m.Op == opAddMember:
			events = append(events, event{name: "ADD_GROUP_MEMBER", params: params})
		case m.Op == opRemoveMember:
			events = append(events, event{name: "REMOVE_GROUP_MEMBER", params: params})
		default:
			old := g.members[i].role
			if old == role {
				return nil // nothing changes, nothing is logged
			}
			events = append(events, event{name: "UPDATE_GROUP_MEMBER",
				params: append(params, param{"OLD_VALUE", old}, param{"NEW_VALUE", role})})
		}
	}
	s.commit(c, actor, app, events, now)
	return nil
}

func (s *Sim) createGroup(m Mutation, actor, app string, now time.Time) *apiError {
	email := lower(m.Group)
	local, domain, ok := strings.Cut(email, "@")
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || !ok {
		return badRequest("Invalid Input: group email %q", m.Group)
	}
	if domain != s.cfg.Domain {
		return badRequest("Invalid Input: group email %q is outside the domain %s", m.Group, s.cfg.Domain)
	}
	if p := s.t.byKey[email]; p != nil && (s.actual.byP[p] != nil || p.typ != typeGroup) {
		return errorf(409, "duplicate", "Entity already exists: %s", email)
	}
	name := m.Name
	if name == "" {
		name = local
	}
	if len(name) > maxNameLen {
		return badRequest("Invalid value for name: 1 to %d characters", maxNameLen)
	}
	vals := defaultSettings()
	if len(m.Settings) > 0 {
		changes := make(map[string]any, len(m.Settings))
		for k, v := range m.Settings {
			changes[k] = v
		}
		patch, err := applySettings(vals, email, changes)
		if err != nil {
			return err
		}
		vals = patch.values
	}
	p := &principal{id: s.ids.groupID(), email: email, typ: typeGroup, status: statusActive, nonEditable: testDomainAlias(email)}
	s.t.add(p)
	g := &group{p: p}
	s.commit(change{op: opCreateGroup, group: p, name: name, settings: &vals}, actor, app, []event{{name: "CREATE_GROUP", params: groupParams(g)}}, now)
	return nil
}

// settingsChange validates a settings write on g and returns the change and one
// CHANGE_GROUP_SETTING event per field whose value changes. Caller holds mu.
func (s *Sim) settingsChange(g *group, changes map[string]any) (change, []event, *apiError) {
	patch, err := applySettings(*g.settings, g.p.email, changes)
	if err != nil {
		return change{}, nil, err
	}
	c := change{op: opSetSettings, group: g.p, settings: &patch.values}
	var events []event
	for i, f := range fields {
		if old, nu := g.settings[i], patch.values[i]; old != nu {
			events = append(events, settingEvent(g, f.name, old, nu))
		}
	}
	if patch.name != nil && *patch.name != g.name {
		c.setName, c.name = true, *patch.name
		events = append(events, event{name: "CHANGE_GROUP_NAME", params: append(groupParams(g), param{"NEW_VALUE", *patch.name})})
	}
	if patch.description != nil && *patch.description != g.description {
		c.setDesc, c.description = true, *patch.description
		events = append(events, event{name: "CHANGE_GROUP_DESCRIPTION", params: groupParams(g)})
	}
	return c, events, nil
}

func settingEvent(g *group, name, old, nu string) event {
	return event{name: "CHANGE_GROUP_SETTING", params: append(groupParams(g),
		param{"SETTING_NAME", name}, param{"OLD_VALUE", old}, param{"NEW_VALUE", nu})}
}

func groupParams(g *group) []param { return []param{{"GROUP_EMAIL", g.p.email}} }

// memberLabel is what activities name a member by: its email, or the customer's id.
func memberLabel(p *principal) string {
	if p.email == "" {
		return p.id
	}
	return p.email
}

// memberPrincipal resolves a member key; with create, an unknown address becomes a new
// outside member. Caller holds mu.
func (s *Sim) memberPrincipal(key string, create bool) (*principal, *apiError) {
	k := lower(key)
	if p := s.t.byKey[k]; p != nil {
		if p.typ == typeGroup && s.actual.byP[p] == nil {
			return nil, notFound("Resource Not Found: member %s (the group was deleted)", key)
		}
		return p, nil
	}
	if !create {
		return nil, notFound("Resource Not Found: member %s", key)
	}
	a, err := mail.ParseAddress(k)
	if err != nil || a.Address != k {
		return nil, badRequest("Invalid Input: member %q is not an email address", key)
	}
	if _, d, _ := strings.Cut(k, "@"); s.ownDomain(d) {
		return nil, notFound("Resource Not Found: member %s (no such user or group in the domain)", key)
	}
	p := &principal{id: s.ids.userID(), email: k, typ: typeUser, status: statusActive, external: true}
	s.t.add(p)
	return p, nil
}

// commit applies c to the actual state, queues it for the lagged state and logs and
// pushes its activities. Caller holds mu.
func (s *Sim) commit(c change, actor, app string, events []event, now time.Time) {
	// Callers read the clock before taking the lock; keep the log and the lag queue in
	// time order even when two writers cross.
	if now.Before(s.lastChange) {
		now = s.lastChange
	}
	s.lastChange = now
	s.actual.apply(c)
	if s.cfg.ReadLag > 0 {
		s.pending = append(s.pending, timed{at: now, c: c})
	}
	for _, e := range events {
		if app == "groups" {
			e = groupsAppEvent(e)
		}
		s.logActivity(now, app, actor, e)
	}
}

// sortedKeys is for stable messages.
func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
