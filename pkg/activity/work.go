package activity

import (
	"strings"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// Work is what a set of events asks the workers to do.
type Work struct {
	// Refresh lists the groups to re-read, each once, in the order the events named them.
	Refresh []Refresh
	// Settings lists the groups whose settings to re-read (for remediation), each once.
	Settings []SettingsRead
	// Users lists the users to re-read, each once: user events change what hygiene
	// judges (suspended, archived) or the keys a user is found by.
	Users []UserRead
}

// UserRead is one user to re-read.
type UserRead struct {
	User   string // primary email (the new one after a rename)
	Reason string
}

// Refresh is one group to re-read and what the re-read should show.
type Refresh struct {
	Group  string
	Reason string // the first event that asked for it
	// Actor and ActivityID are the first event's: the cause the change feed names.
	Actor, ActivityID string
	// Expect is what the events announced about members, one entry per member (the last
	// event on a member wins), so the refresh can tell Google's lagging read from the truth.
	Expect []tasks.Expectation
}

// SettingsRead is one group whose settings changed.
type SettingsRead struct {
	Group  string
	Reason string
}

// effect is what an event name means for the cache.
type effect int

const (
	historyOnly effect = iota
	memberAdded
	memberRemoved
	memberRole
	groupChanged
	settingChanged
	userChanged
)

// effects maps event names (upper-cased: the admin application spells them
// ADD_GROUP_MEMBER, the groups application add_user) to what Greep does about them. The
// admin names are Google's documented GROUP_SETTINGS events; the groups application's are
// the ones the Groups UI is known to log. An event not listed is kept in the history only:
// the periodic resync is the safety net for anything missed here.
var effects = map[string]effect{
	// admin application, type GROUP_SETTINGS
	"ADD_GROUP_MEMBER":         memberAdded,
	"REMOVE_GROUP_MEMBER":      memberRemoved,
	"UPDATE_GROUP_MEMBER":      memberRole,
	"CREATE_GROUP":             groupChanged,
	"DELETE_GROUP":             groupChanged,
	"CHANGE_GROUP_EMAIL":       groupChanged,
	"CHANGE_GROUP_NAME":        groupChanged,
	"CHANGE_GROUP_DESCRIPTION": groupChanged,
	"GROUP_MEMBER_BULK_UPLOAD": groupChanged,
	"CHANGE_GROUP_SETTING":     settingChanged,
	// admin application, type USER_SETTINGS (the user in USER_EMAIL)
	"CREATE_USER":     userChanged,
	"DELETE_USER":     userChanged,
	"UNDELETE_USER":   userChanged,
	"SUSPEND_USER":    userChanged,
	"UNSUSPEND_USER":  userChanged,
	"ARCHIVE_USER":    userChanged,
	"UNARCHIVE_USER":  userChanged,
	"RENAME_USER":     userChanged,
	"ADD_NICKNAME":    userChanged,
	"REMOVE_NICKNAME": userChanged,
	// groups application (changes made in the Groups UI)
	"ADD_USER":              memberAdded,
	"JOIN":                  memberAdded,
	"ACCEPT_INVITATION":     memberAdded,
	"APPROVE_JOIN_REQUEST":  memberAdded,
	"REMOVE_USER":           memberRemoved,
	"LEAVE":                 memberRemoved,
	"CHANGE_USER_ROLE":      memberRole,
	"CHANGE_ACL_PERMISSION": settingChanged,
	"CHANGE_BASIC_SETTING":  groupChanged,
}

// Plan returns the work events imply. Events without a group, or whose name Greep does not
// act on, imply none.
func Plan(events []greep.Event) Work {
	var w Work
	refresh := map[string]int{}           // group -> index in w.Refresh
	expect := map[string]map[string]int{} // group -> member -> index in its Expect
	settings := map[string]bool{}
	users := map[string]bool{}
	for _, e := range events {
		eff := effects[strings.ToUpper(e.Event)]
		if eff == userChanged {
			user := e.Member
			if strings.EqualFold(e.Event, "RENAME_USER") && strings.Contains(e.NewValue, "@") {
				// Google no longer finds the user by the old address.
				user = strings.ToLower(strings.TrimSpace(e.NewValue))
			}
			if user != "" && !users[user] {
				users[user] = true
				w.Users = append(w.Users, UserRead{User: user, Reason: e.Event})
			}
			continue
		}
		group := e.Group
		if eff == groupChanged && strings.EqualFold(e.Event, "CHANGE_GROUP_EMAIL") && strings.Contains(e.NewValue, "@") {
			// After a rename the old address no longer finds the group at Google, and a
			// refresh that gets 404 would drop it from the cache.
			group = strings.ToLower(strings.TrimSpace(e.NewValue))
		}
		if group == "" || eff == historyOnly {
			continue
		}
		if eff == settingChanged {
			if !settings[group] {
				settings[group] = true
				w.Settings = append(w.Settings, SettingsRead{Group: group, Reason: e.Event})
			}
			continue
		}
		i, ok := refresh[group]
		if !ok {
			i = len(w.Refresh)
			refresh[group] = i
			w.Refresh = append(w.Refresh, Refresh{Group: group, Reason: e.Event, Actor: e.Actor, ActivityID: e.ID})
			expect[group] = map[string]int{}
		}
		x, ok := expectation(eff, e)
		if !ok {
			continue
		}
		r := &w.Refresh[i]
		if j, seen := expect[group][x.Member]; seen {
			r.Expect[j] = x
		} else {
			expect[group][x.Member] = len(r.Expect)
			r.Expect = append(r.Expect, x)
		}
	}
	return w
}

func expectation(eff effect, e greep.Event) (tasks.Expectation, bool) {
	if e.Member == "" {
		return tasks.Expectation{}, false
	}
	switch eff {
	case memberAdded:
		return tasks.Expectation{Member: e.Member, Present: true}, true
	case memberRemoved:
		return tasks.Expectation{Member: e.Member, Present: false}, true
	case memberRole:
		role := strings.ToUpper(strings.TrimSpace(e.NewValue))
		if role == "" {
			// A partial activity: it says the role changed, not to what.
			return tasks.Expectation{}, false
		}
		return tasks.Expectation{Member: e.Member, Present: true, Role: role}, true
	}
	return tasks.Expectation{}, false
}

// MemberEvent reports whether e is a membership event (a member added, removed or given a
// role), whatever its parameters hold.
func MemberEvent(e greep.Event) bool {
	switch effects[strings.ToUpper(e.Event)] {
	case memberAdded, memberRemoved, memberRole:
		return true
	}
	return false
}

// Expectation returns what a membership event says of its member, and false for any
// other event or one that names no member.
func Expectation(e greep.Event) (tasks.Expectation, bool) {
	return expectation(effects[strings.ToUpper(e.Event)], e)
}

// SettingEvent reports whether e changes a group setting (CHANGE_GROUP_SETTING, the
// groups application's change_acl_permission), whatever its parameters hold.
func SettingEvent(e greep.Event) bool {
	return effects[strings.ToUpper(e.Event)] == settingChanged
}
