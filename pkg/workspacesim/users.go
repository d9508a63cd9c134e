package workspacesim

import (
	"net/mail"
	"slices"
	"strings"
	"time"
)

// User mutations: what an admin does to a user in the Admin console, logged as Google
// logs it (application admin, type USER_SETTINGS, the user's primary email in
// USER_EMAIL). A user's state is not lagged: users.list and members.list show it at once.
const (
	opSuspendUser     = "suspendUser"
	opUnsuspendUser   = "unsuspendUser"
	opArchiveUser     = "archiveUser"
	opUnarchiveUser   = "unarchiveUser"
	opAddUserAlias    = "addUserAlias"
	opRemoveUserAlias = "removeUserAlias"
)

var userOps = set(opSuspendUser, opUnsuspendUser, opArchiveUser, opUnarchiveUser, opAddUserAlias, opRemoveUserAlias,
	opCreateUser, opRenameUser, opDeleteUser)

// userEvents are the Reports API event names of the user ops; an alias is a "nickname"
// in the Admin console's log (parameter USER_NICKNAME).
var userEvents = map[string]string{
	opSuspendUser:     "SUSPEND_USER",
	opUnsuspendUser:   "UNSUSPEND_USER",
	opArchiveUser:     "ARCHIVE_USER",
	opUnarchiveUser:   "UNARCHIVE_USER",
	opAddUserAlias:    "ADD_NICKNAME",
	opRemoveUserAlias: "REMOVE_NICKNAME",
}

// applyUserOp applies one user mutation. Caller holds mu.
func (s *Sim) applyUserOp(m Mutation, actor string, now time.Time) *apiError {
	if _, ok := userLifeEvents[m.Op]; ok {
		return s.applyUserLife(m, actor, now)
	}
	p := s.t.byKey[lower(m.User)]
	if p == nil || p.user == nil {
		return notFound("Resource Not Found: user %s", m.User)
	}
	u := p.user
	params := []param{{"USER_EMAIL", p.email}}
	switch m.Op {
	case opSuspendUser, opUnsuspendUser:
		want := m.Op == opSuspendUser
		if u.suspended == want {
			return nil // nothing changes, nothing is logged
		}
		u.suspended = want
	case opArchiveUser, opUnarchiveUser:
		want := m.Op == opArchiveUser
		if u.archived == want {
			return nil
		}
		u.archived = want
	case opAddUserAlias:
		alias := lower(m.Alias)
		_, d, _ := strings.Cut(alias, "@")
		if a, err := mail.ParseAddress(alias); err != nil || a.Address != alias || !s.ownDomain(d) {
			return badRequest("Invalid Input: alias %q is not an address of the domain", m.Alias)
		}
		if s.t.byKey[alias] != nil {
			return errorf(409, "duplicate", "Entity already exists: %s", alias)
		}
		// A new slice: answers built before this one may still hold the old.
		p.aliases = append(slices.Clone(p.aliases), alias)
		s.t.byKey[alias] = p
		params = append(params, param{"USER_NICKNAME", alias})
	case opRemoveUserAlias:
		alias := lower(m.Alias)
		i := slices.Index(p.aliases, alias)
		if i < 0 {
			return notFound("Resource Not Found: alias %s of %s", m.Alias, p.email)
		}
		p.aliases = slices.Delete(slices.Clone(p.aliases), i, i+1)
		delete(s.t.byKey, alias)
		params = append(params, param{"USER_NICKNAME", alias})
	}
	p.status = userStatus(u)
	if now.Before(s.lastChange) {
		now = s.lastChange
	}
	s.lastChange = now
	s.logActivity(now, "admin", actor, event{name: userEvents[m.Op], typ: "USER_SETTINGS", params: params})
	return nil
}

// userStatus is the member status a user's state shows as.
func userStatus(u *user) string {
	switch {
	case u.suspended:
		return statusSuspended
	case u.archived:
		return statusArchived
	}
	return statusActive
}
