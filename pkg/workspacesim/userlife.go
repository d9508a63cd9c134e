package workspacesim

import (
	"net/mail"
	"slices"
	"strings"
	"time"
)

// A user's life as the Admin console changes it: created, renamed (a new primary email;
// Google keeps the old address as an alias, so mail and lookups by it still reach the
// user), deleted (Google takes the user out of every group). Each is logged as Google
// logs it: application admin, type USER_SETTINGS, the user's address in USER_EMAIL (the
// old one for a rename, with the new one in NEW_VALUE). Like the other user ops, the
// user's own state is not lagged; a deletion's removals from groups are, as any
// membership change.
const (
	opCreateUser = "createUser"
	opRenameUser = "renameUser"
	opDeleteUser = "deleteUser"
)

var userLifeEvents = map[string]string{
	opCreateUser: "CREATE_USER",
	opRenameUser: "RENAME_USER",
	opDeleteUser: "DELETE_USER",
}

// newUserAddress checks that addr can become a user's primary email: an address of the
// tenant's primary domain that no user, group or alias holds. Caller holds mu.
func (s *Sim) newUserAddress(addr string) (string, *apiError) {
	email := lower(addr)
	_, d, _ := strings.Cut(email, "@")
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || d != s.cfg.Domain {
		return "", badRequest("Invalid Input: primary email %q is not an address of %s", addr, s.cfg.Domain)
	}
	if s.t.byKey[email] != nil {
		return "", errorf(409, "duplicate", "Entity already exists: %s", email)
	}
	return email, nil
}

// applyUserLife applies createUser, renameUser or deleteUser. Caller holds mu.
func (s *Sim) applyUserLife(m Mutation, actor string, now time.Time) *apiError {
	if now.Before(s.lastChange) {
		now = s.lastChange
	}
	if m.Op == opCreateUser {
		email, err := s.newUserAddress(m.User)
		if err != nil {
			return err
		}
		local, _, _ := strings.Cut(email, "@")
		p := &principal{id: s.ids.userID(), email: email, typ: typeUser, status: statusActive,
			nonEditable: testDomainAlias(email), user: &user{given: local, created: now}}
		s.t.add(p)
		s.t.insertUser(p)
		s.lastChange = now
		s.logActivity(now, "admin", actor, event{name: userLifeEvents[m.Op], typ: "USER_SETTINGS", params: []param{{"USER_EMAIL", email}}})
		return nil
	}
	p := s.t.byKey[lower(m.User)]
	if p == nil || p.user == nil {
		return notFound("Resource Not Found: user %s", m.User)
	}
	params := []param{{"USER_EMAIL", p.email}}
	switch m.Op {
	case opRenameUser:
		email, err := s.newUserAddress(m.Email)
		if err != nil {
			return err
		}
		s.t.removeUser(p)
		for _, a := range p.nonEditable {
			delete(s.t.byKey, a)
		}
		// New slices: answers built before this one may still hold the old.
		p.aliases = append(slices.Clone(p.aliases), p.email)
		p.nonEditable = testDomainAlias(email)
		p.email = email
		s.t.add(p)
		s.t.insertUser(p)
		// Member lists are kept in email order, in the state reads see too.
		s.actual.resort(p)
		if s.visible != s.actual {
			s.visible.resort(p)
		}
		params = append(params, param{"NEW_VALUE", email})
	case opDeleteUser:
		for _, g := range slices.Clone(s.actual.memberOf[p]) {
			s.commit(change{op: opRemoveMember, group: g.p, member: p}, actor, "admin", nil, now)
		}
		s.t.removeUser(p)
		for _, k := range append(append([]string{p.email, p.id}, p.aliases...), p.nonEditable...) {
			delete(s.t.byKey, k)
		}
	}
	s.lastChange = now
	s.logActivity(now, "admin", actor, event{name: userLifeEvents[m.Op], typ: "USER_SETTINGS", params: params})
	return nil
}

// insertUser puts p in the email-ordered list of users.
func (t *tenant) insertUser(p *principal) {
	i, _ := slices.BinarySearchFunc(t.users, p.email, func(u *principal, e string) int { return strings.Compare(u.email, e) })
	t.users = slices.Insert(t.users, i, p)
}

// removeUser takes p out of the list of users (by identity: its email may be changing).
func (t *tenant) removeUser(p *principal) {
	if i := slices.Index(t.users, p); i >= 0 {
		t.users = slices.Delete(t.users, i, i+1)
	}
}

// resort puts the member lists holding p back in email order after p's email changed.
func (s *state) resort(p *principal) {
	s.gen++
	for _, g := range s.memberOf[p] {
		slices.SortFunc(g.members, func(a, b membership) int { return memberLess(a.p, b.p) })
	}
}
