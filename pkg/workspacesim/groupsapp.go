package workspacesim

import (
	"strings"
	"unicode"
)

// The groups application (changes made in the Groups UI rather than the Admin console)
// logs the same changes under its own lower-case names and parameters. groupsAppEvent
// renames an admin-application event so: members added and removed are add_user and
// remove_user, a role change change_user_role, a settings change change_acl_permission
// (acl_permission names the setting as the Groups UI does, can_view_group for
// whoCanViewGroup; the values are in old_value_repeated and new_value_repeated), name and
// description changes change_basic_setting, and the group's creation and deletion
// create_group and delete_group.
func groupsAppEvent(e event) event {
	out := event{typ: "group_change"}
	for _, p := range e.params {
		out.params = append(out.params, param{strings.ToLower(p.name), p.value})
	}
	switch e.name {
	case "ADD_GROUP_MEMBER":
		out.name, out.typ = "add_user", "moderator_action"
	case "REMOVE_GROUP_MEMBER":
		out.name, out.typ = "remove_user", "moderator_action"
	case "UPDATE_GROUP_MEMBER":
		out.name, out.typ = "change_user_role", "moderator_action"
	case "CHANGE_GROUP_SETTING":
		out.name, out.typ, out.params = "change_acl_permission", "acl_change", nil
		for _, p := range e.params {
			switch p.name {
			case "SETTING_NAME":
				out.params = append(out.params, param{"acl_permission", aclPermission(p.value)})
			case "OLD_VALUE":
				out.params = append(out.params, param{"old_value_repeated", p.value})
			case "NEW_VALUE":
				out.params = append(out.params, param{"new_value_repeated", p.value})
			default:
				out.params = append(out.params, param{strings.ToLower(p.name), p.value})
			}
		}
	case "CHANGE_GROUP_NAME", "CHANGE_GROUP_DESCRIPTION":
		out.name = "change_basic_setting"
	default:
		out.name = strings.ToLower(e.name)
	}
	return out
}

// aclPermission names a Groups Settings field as the Groups UI's log does:
// whoCanViewGroup is can_view_group.
func aclPermission(field string) string {
	f := strings.TrimPrefix(field, "who")
	var b strings.Builder
	for i, r := range f {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
