package workspacesim

import (
	"fmt"
	"net/mail"
	"strings"
)

// fieldKind says how a Groups Settings field's value is checked.
type fieldKind uint8

const (
	kindEnum  fieldKind = iota // one of values
	kindBool                   // "true" or "false" (the API's booleans are strings)
	kindText                   // free text up to maxLen
	kindEmail                  // an email address or empty
)

// field is one current (not deprecated) Groups Settings field the simulator stores.
type field struct {
	name   string
	kind   fieldKind
	values []string
	maxLen int
}

// fields are the current fields of groupssettings v1 with their enum values (from the
// discovery document; see docs/simulator.md). Their order is the index into settingValues.
// name and description are the Directory group's own and live on the group.
var fields = []field{
	{name: "whoCanJoin", values: []string{"ANYONE_CAN_JOIN", "ALL_IN_DOMAIN_CAN_JOIN", "INVITED_CAN_JOIN", "CAN_REQUEST_TO_JOIN"}},
	{name: "whoCanViewMembership", values: []string{"ALL_IN_DOMAIN_CAN_VIEW", "ALL_MEMBERS_CAN_VIEW", "ALL_MANAGERS_CAN_VIEW", "ALL_OWNERS_CAN_VIEW"}},
	{name: "whoCanViewGroup", values: []string{"ANYONE_CAN_VIEW", "ALL_IN_DOMAIN_CAN_VIEW", "ALL_MEMBERS_CAN_VIEW", "ALL_MANAGERS_CAN_VIEW", "ALL_OWNERS_CAN_VIEW"}},
	{name: "allowExternalMembers", kind: kindBool},
	{name: "whoCanPostMessage", values: []string{"NONE_CAN_POST", "ALL_MANAGERS_CAN_POST", "ALL_MEMBERS_CAN_POST", "ALL_OWNERS_CAN_POST", "ALL_IN_DOMAIN_CAN_POST", "ANYONE_CAN_POST"}},
	{name: "allowWebPosting", kind: kindBool},
	{name: "primaryLanguage", kind: kindText, maxLen: 16},
	{name: "isArchived", kind: kindBool},
	{name: "archiveOnly", kind: kindBool},
	{name: "messageModerationLevel", values: []string{"MODERATE_ALL_MESSAGES", "MODERATE_NON_MEMBERS", "MODERATE_NEW_MEMBERS", "MODERATE_NONE"}},
	{name: "spamModerationLevel", values: []string{"ALLOW", "MODERATE", "SILENTLY_MODERATE", "REJECT"}},
	{name: "replyTo", values: []string{"REPLY_TO_CUSTOM", "REPLY_TO_SENDER", "REPLY_TO_LIST", "REPLY_TO_OWNER", "REPLY_TO_IGNORE", "REPLY_TO_MANAGERS"}},
	{name: "customReplyTo", kind: kindEmail, maxLen: 320},
	{name: "includeCustomFooter", kind: kindBool},
	{name: "customFooterText", kind: kindText, maxLen: 1000},
	{name: "sendMessageDenyNotification", kind: kindBool},
	{name: "defaultMessageDenyNotificationText", kind: kindText, maxLen: 10000},
	{name: "membersCanPostAsTheGroup", kind: kindBool},
	{name: "includeInGlobalAddressList", kind: kindBool},
	{name: "whoCanLeaveGroup", values: []string{"ALL_MANAGERS_CAN_LEAVE", "ALL_MEMBERS_CAN_LEAVE", "NONE_CAN_LEAVE"}},
	{name: "whoCanContactOwner", values: []string{"ALL_IN_DOMAIN_CAN_CONTACT", "ALL_MANAGERS_CAN_CONTACT", "ALL_MEMBERS_CAN_CONTACT", "ANYONE_CAN_CONTACT", "ALL_OWNERS_CAN_CONTACT"}},
	{name: "favoriteRepliesOnTop", kind: kindBool},
	{name: "whoCanApproveMembers", values: []string{"ALL_MEMBERS_CAN_APPROVE", "ALL_MANAGERS_CAN_APPROVE", "ALL_OWNERS_CAN_APPROVE", "NONE_CAN_APPROVE"}},
	{name: "whoCanBanUsers", values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "OWNERS_ONLY", "NONE"}},
	{name: "whoCanModerateMembers", values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "OWNERS_ONLY", "NONE"}},
	{name: "whoCanModerateContent", values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "OWNERS_ONLY", "NONE"}},
	{name: "whoCanAssistContent", values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "MANAGERS_ONLY", "OWNERS_ONLY", "NONE"}},
	{name: "enableCollaborativeInbox", kind: kindBool},
	{name: "whoCanDiscoverGroup", values: []string{"ANYONE_CAN_DISCOVER", "ALL_IN_DOMAIN_CAN_DISCOVER", "ALL_MEMBERS_CAN_DISCOVER"}},
	{name: "default_sender", values: []string{"DEFAULT_SELF", "GROUP"}},
}

// readOnlyFields are sent back by GET and ignored on write, as Google does with output-only
// fields. deprecatedFields are accepted on write and ignored: Google folded them into the
// current ones (see the reference notes).
var (
	readOnlyFields   = set("kind", "email", "customRolesEnabledForSettingsToBeMerged")
	deprecatedFields = set("whoCanAdd", "whoCanInvite", "whoCanModifyMembers", "whoCanApproveMessages",
		"whoCanDeleteAnyPost", "whoCanDeleteTopics", "whoCanLockTopics", "whoCanMakeTopicsSticky",
		"whoCanMoveTopicsIn", "whoCanMoveTopicsOut", "whoCanPostAnnouncements", "whoCanHideAbuse",
		"whoCanAssignTopics", "whoCanEnterFreeFormTags", "whoCanMarkDuplicate",
		"whoCanMarkFavoriteReplyOnAnyTopic", "whoCanMarkFavoriteReplyOnOwnTopic",
		"whoCanMarkNoResponseNeeded", "whoCanModifyTagsAndCategories", "whoCanTakeTopics",
		"whoCanUnassignTopic", "whoCanUnmarkFavoriteReplyOnAnyTopic", "showInGroupDirectory",
		"allowGoogleCommunication", "maxMessageBytes", "messageDisplayFont", "whoCanAddReferences")
)

// Limits of the group's own fields as the Groups Settings limits page gives them.
const (
	maxNameLen        = 60
	maxDescriptionLen = 4096
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

var fieldIndex = func() map[string]int {
	m := make(map[string]int, len(fields))
	for i, f := range fields {
		m[f.name] = i
	}
	return m
}()

// settingValues holds one value per entry of fields. Values are compared and interned
// (most groups share a handful of combinations), so a 45,000-group tenant stores a few
// hundred arrays, not 45,000.
type settingValues [len30]string

// len30 is len(fields); an array length must be constant. init checks they agree.
const len30 = 30

func init() {
	if len(fields) != len30 {
		panic(fmt.Sprintf("workspacesim: settingValues holds %d values, fields has %d", len30, len(fields)))
	}
}

func (v *settingValues) get(name string) string { return v[fieldIndex[name]] }

func (v *settingValues) set(name, value string) { v[fieldIndex[name]] = value }

// Map returns the values by field name.
func (v *settingValues) Map() map[string]string {
	m := make(map[string]string, len(fields))
	for i, f := range fields {
		m[f.name] = v[i]
	}
	return m
}

// defaultSettings are what a group created without settings gets: Google's defaults for a
// new group made by an administrator.
func defaultSettings() settingValues { return defaults }

var defaults = func() settingValues {
	var v settingValues
	for name, value := range map[string]string{
		"whoCanJoin":                         "CAN_REQUEST_TO_JOIN",
		"whoCanViewMembership":               "ALL_MEMBERS_CAN_VIEW",
		"whoCanViewGroup":                    "ALL_MEMBERS_CAN_VIEW",
		"allowExternalMembers":               "false",
		"whoCanPostMessage":                  "ALL_MEMBERS_CAN_POST",
		"allowWebPosting":                    "true",
		"primaryLanguage":                    "en",
		"isArchived":                         "false",
		"archiveOnly":                        "false",
		"messageModerationLevel":             "MODERATE_NONE",
		"spamModerationLevel":                "MODERATE",
		"replyTo":                            "REPLY_TO_IGNORE",
		"customReplyTo":                      "",
		"includeCustomFooter":                "false",
		"customFooterText":                   "",
		"sendMessageDenyNotification":        "false",
		"defaultMessageDenyNotificationText": "",
		"membersCanPostAsTheGroup":           "false",
		"includeInGlobalAddressList":         "true",
		"whoCanLeaveGroup":                   "ALL_MEMBERS_CAN_LEAVE",
		"whoCanContactOwner":                 "ALL_IN_DOMAIN_CAN_CONTACT",
		"favoriteRepliesOnTop":               "true",
		"whoCanApproveMembers":               "ALL_MANAGERS_CAN_APPROVE",
		"whoCanBanUsers":                     "OWNERS_AND_MANAGERS",
		"whoCanModerateMembers":              "OWNERS_AND_MANAGERS",
		"whoCanModerateContent":              "OWNERS_AND_MANAGERS",
		"whoCanAssistContent":                "NONE",
		"enableCollaborativeInbox":           "false",
		"whoCanDiscoverGroup":                "ALL_IN_DOMAIN_CAN_DISCOVER",
		"default_sender":                     "DEFAULT_SELF",
	} {
		v.set(name, value)
	}
	return v
}()

// Breadth of the audiences the combination rules compare; larger is broader.
var (
	viewGroupBreadth = map[string]int{"ANYONE_CAN_VIEW": 4, "ALL_IN_DOMAIN_CAN_VIEW": 3,
		"ALL_MEMBERS_CAN_VIEW": 2, "ALL_MANAGERS_CAN_VIEW": 1, "ALL_OWNERS_CAN_VIEW": 0}
	viewMembershipBreadth = map[string]int{"ALL_IN_DOMAIN_CAN_VIEW": 3,
		"ALL_MEMBERS_CAN_VIEW": 2, "ALL_MANAGERS_CAN_VIEW": 1, "ALL_OWNERS_CAN_VIEW": 0}
	discoverBreadth = map[string]int{"ANYONE_CAN_DISCOVER": 4, "ALL_IN_DOMAIN_CAN_DISCOVER": 3,
		"ALL_MEMBERS_CAN_DISCOVER": 2}
)

// checkValue validates one field's value on its own.
func checkValue(f field, value string) *apiError {
	switch f.kind {
	case kindEnum:
		for _, v := range f.values {
			if v == value {
				return nil
			}
		}
		return badRequest("Invalid value for %s: %q (allowed: %s)", f.name, value, strings.Join(f.values, ", "))
	case kindBool:
		if value != "true" && value != "false" {
			return badRequest("Invalid value for %s: %q (allowed: true, false)", f.name, value)
		}
	case kindText:
		if len(value) > f.maxLen {
			return badRequest("Invalid value for %s: longer than %d characters", f.name, f.maxLen)
		}
	case kindEmail:
		if value == "" {
			return nil
		}
		if len(value) > f.maxLen {
			return badRequest("Invalid value for %s: longer than %d characters", f.name, f.maxLen)
		}
		if a, err := mail.ParseAddress(value); err != nil || a.Address != value {
			return badRequest("Invalid value for %s: %q is not an email address", f.name, value)
		}
	}
	return nil
}

// checkCombination enforces the rules between fields that Google refuses to break
// (documented in docs/simulator.md).
func checkCombination(v *settingValues) *apiError {
	membership := v.get("whoCanViewMembership")
	if viewMembershipBreadth[membership] > viewGroupBreadth[v.get("whoCanViewGroup")] {
		return badRequest("Invalid value for whoCanViewMembership: %s is broader than whoCanViewGroup %s allows",
			membership, v.get("whoCanViewGroup"))
	}
	if viewMembershipBreadth[membership] > discoverBreadth[v.get("whoCanDiscoverGroup")] {
		return badRequest("Invalid value for whoCanViewMembership: %s is broader than whoCanDiscoverGroup %s allows",
			membership, v.get("whoCanDiscoverGroup"))
	}
	archiveOnly := v.get("archiveOnly") == "true"
	if none := v.get("whoCanPostMessage") == "NONE_CAN_POST"; none != archiveOnly {
		if archiveOnly {
			return badRequest("Invalid value for whoCanPostMessage: an archive-only group takes NONE_CAN_POST, not %s", v.get("whoCanPostMessage"))
		}
		return badRequest("Invalid value for whoCanPostMessage: NONE_CAN_POST needs archiveOnly true")
	}
	if v.get("replyTo") == "REPLY_TO_CUSTOM" && v.get("customReplyTo") == "" {
		return badRequest("Invalid value for customReplyTo: REPLY_TO_CUSTOM needs a customReplyTo address")
	}
	if v.get("includeCustomFooter") == "true" && v.get("customFooterText") == "" {
		return badRequest("Invalid value for customFooterText: includeCustomFooter true needs a footer text")
	}
	return nil
}

// settingsPatch is a validated write: new field values, and the group's name and
// description if the write changes them.
type settingsPatch struct {
	values      settingValues
	name        *string
	description *string
}

// applySettings validates changes (field name -> raw JSON-decoded value) against the
// group's current values and returns the result. Writing archiveOnly "true" without a
// whoCanPostMessage also sets NONE_CAN_POST, as Google does; writing "false" on a
// NONE_CAN_POST group without a whoCanPostMessage brings back ALL_MEMBERS_CAN_POST.
func applySettings(cur settingValues, groupEmail string, changes map[string]any) (settingsPatch, *apiError) {
	p := settingsPatch{values: cur}
	for _, name := range sortedKeys(changes) {
		raw := changes[name]
		if deprecatedFields[name] {
			continue
		}
		s, ok := raw.(string)
		if raw == nil {
			s, ok = "", true // JSON null clears a field (its check below decides if that is allowed)
		}
		if !ok {
			return p, badRequest("Invalid value at '%s': a string is expected", name)
		}
		switch {
		case name == "name":
			if s == "" || len(s) > maxNameLen {
				return p, badRequest("Invalid value for name: 1 to %d characters", maxNameLen)
			}
			p.name = &s
		case name == "description":
			if len(s) > maxDescriptionLen {
				return p, badRequest("Invalid value for description: longer than %d characters", maxDescriptionLen)
			}
			p.description = &s
		case name == "email":
			if !strings.EqualFold(s, groupEmail) {
				return p, badRequest("Invalid value for email: the Groups Settings API does not change a group's email")
			}
		case readOnlyFields[name]:
		default:
			i, known := fieldIndex[name]
			if !known {
				return p, badRequest("Invalid JSON payload received. Unknown name %q: Cannot find field.", name)
			}
			if err := checkValue(fields[i], s); err != nil {
				return p, err
			}
			p.values[i] = s
		}
	}
	if _, set := changes["whoCanPostMessage"]; !set {
		if a, ok := changes["archiveOnly"].(string); ok {
			switch {
			case a == "true":
				p.values.set("whoCanPostMessage", "NONE_CAN_POST")
			case a == "false" && p.values.get("whoCanPostMessage") == "NONE_CAN_POST":
				p.values.set("whoCanPostMessage", "ALL_MEMBERS_CAN_POST")
			}
		}
	}
	if err := checkCombination(&p.values); err != nil {
		return p, err
	}
	return p, nil
}
