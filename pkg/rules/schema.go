package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Field describes one Groups Settings API field a rule may name.
type Field struct {
	// Values is the field's enum. Every Groups Settings value is a string, booleans
	// included, so a boolean field's enum is "true" and "false".
	Values []string
	// Deprecated fields are still accepted by the API but merged into another field;
	// a rule on them is refused so nobody polices a setting Google ignores.
	MergedInto string
}

func (f Field) allows(v string) bool {
	for _, x := range f.Values {
		if x == v {
			return true
		}
	}
	return false
}

var boolean = []string{"true", "false"}

// Fields is the schema Greep knows: the current (non-deprecated) enum and boolean fields
// of the Groups Settings API v1 (discovery revision 20220614), plus the deprecated ones
// with the field they were merged into. Free-text fields (name, description, footers)
// are not here: no rule can be about them.
var Fields = map[string]Field{
	"whoCanJoin":            {Values: []string{"ANYONE_CAN_JOIN", "ALL_IN_DOMAIN_CAN_JOIN", "INVITED_CAN_JOIN", "CAN_REQUEST_TO_JOIN"}},
	"whoCanViewMembership":  {Values: []string{"ALL_IN_DOMAIN_CAN_VIEW", "ALL_MEMBERS_CAN_VIEW", "ALL_MANAGERS_CAN_VIEW", "ALL_OWNERS_CAN_VIEW"}},
	"whoCanViewGroup":       {Values: []string{"ANYONE_CAN_VIEW", "ALL_IN_DOMAIN_CAN_VIEW", "ALL_MEMBERS_CAN_VIEW", "ALL_MANAGERS_CAN_VIEW", "ALL_OWNERS_CAN_VIEW"}},
	"whoCanPostMessage":     {Values: []string{"NONE_CAN_POST", "ALL_MANAGERS_CAN_POST", "ALL_MEMBERS_CAN_POST", "ALL_OWNERS_CAN_POST", "ALL_IN_DOMAIN_CAN_POST", "ANYONE_CAN_POST"}},
	"whoCanModerateMembers": {Values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "OWNERS_ONLY", "NONE"}},
	"whoCanModerateContent": {Values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "OWNERS_ONLY", "NONE"}},
	"whoCanAssistContent":   {Values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "MANAGERS_ONLY", "OWNERS_ONLY", "NONE"}},
	"whoCanDiscoverGroup":   {Values: []string{"ANYONE_CAN_DISCOVER", "ALL_IN_DOMAIN_CAN_DISCOVER", "ALL_MEMBERS_CAN_DISCOVER"}},
	"whoCanContactOwner":    {Values: []string{"ALL_IN_DOMAIN_CAN_CONTACT", "ALL_MANAGERS_CAN_CONTACT", "ALL_MEMBERS_CAN_CONTACT", "ANYONE_CAN_CONTACT", "ALL_OWNERS_CAN_CONTACT"}},
	"whoCanLeaveGroup":      {Values: []string{"ALL_MANAGERS_CAN_LEAVE", "ALL_MEMBERS_CAN_LEAVE", "NONE_CAN_LEAVE"}},
	"whoCanApproveMembers":  {Values: []string{"ALL_MEMBERS_CAN_APPROVE", "ALL_MANAGERS_CAN_APPROVE", "ALL_OWNERS_CAN_APPROVE", "NONE_CAN_APPROVE"}},
	"whoCanBanUsers":        {Values: []string{"ALL_MEMBERS", "OWNERS_AND_MANAGERS", "OWNERS_ONLY", "NONE"}},
	"messageModerationLevel": {Values: []string{
		"MODERATE_ALL_MESSAGES", "MODERATE_NON_MEMBERS", "MODERATE_NEW_MEMBERS", "MODERATE_NONE"}},
	"spamModerationLevel": {Values: []string{"ALLOW", "MODERATE", "SILENTLY_MODERATE", "REJECT"}},
	"replyTo": {Values: []string{
		"REPLY_TO_CUSTOM", "REPLY_TO_SENDER", "REPLY_TO_LIST", "REPLY_TO_OWNER", "REPLY_TO_IGNORE", "REPLY_TO_MANAGERS"}},
	"default_sender":              {Values: []string{"DEFAULT_SELF", "GROUP"}},
	"allowExternalMembers":        {Values: boolean},
	"allowWebPosting":             {Values: boolean},
	"archiveOnly":                 {Values: boolean},
	"isArchived":                  {Values: boolean},
	"membersCanPostAsTheGroup":    {Values: boolean},
	"includeInGlobalAddressList":  {Values: boolean},
	"includeCustomFooter":         {Values: boolean},
	"sendMessageDenyNotification": {Values: boolean},
	"enableCollaborativeInbox":    {Values: boolean},
	"favoriteRepliesOnTop":        {Values: boolean},

	"whoCanAdd":               {MergedInto: "whoCanModerateMembers"},
	"whoCanInvite":            {MergedInto: "whoCanModerateMembers"},
	"whoCanModifyMembers":     {MergedInto: "whoCanModerateMembers"},
	"showInGroupDirectory":    {MergedInto: "whoCanDiscoverGroup"},
	"whoCanApproveMessages":   {MergedInto: "whoCanModerateContent"},
	"whoCanDeleteAnyPost":     {MergedInto: "whoCanModerateContent"},
	"whoCanDeleteTopics":      {MergedInto: "whoCanModerateContent"},
	"whoCanLockTopics":        {MergedInto: "whoCanModerateContent"},
	"whoCanMakeTopicsSticky":  {MergedInto: "whoCanModerateContent"},
	"whoCanMoveTopicsIn":      {MergedInto: "whoCanModerateContent"},
	"whoCanMoveTopicsOut":     {MergedInto: "whoCanModerateContent"},
	"whoCanPostAnnouncements": {MergedInto: "whoCanModerateContent"},
	"whoCanHideAbuse":         {MergedInto: "whoCanModerateContent"},
}

// CheckValue reports whether value is one of field's values, with an error that names
// what is allowed.
func CheckValue(field, value string) error {
	f, ok := Fields[field]
	if !ok {
		return fmt.Errorf("unknown Groups Settings field %q", field)
	}
	if f.MergedInto != "" {
		return fmt.Errorf("field %q is deprecated (merged into %s); write the rule on %s", field, f.MergedInto, f.MergedInto)
	}
	if !f.allows(value) {
		return fmt.Errorf("%q is not a value of %s (one of %s)", value, field, strings.Join(f.Values, ", "))
	}
	return nil
}

// Audience is how wide a "who can" value reaches, so values of different fields compare:
// anyone > everyone in the domain > members > managers > owners > nobody.
type Audience int

// Audience levels, narrowest first.
const (
	AudienceNone Audience = iota
	AudienceOwners
	AudienceManagers
	AudienceMembers
	AudienceDomain
	AudienceAnyone
)

// audience gives the reach of the values of the fields a constraint compares.
var audience = map[string]map[string]Audience{
	"whoCanViewMembership": {
		"ALL_IN_DOMAIN_CAN_VIEW": AudienceDomain,
		"ALL_MEMBERS_CAN_VIEW":   AudienceMembers,
		"ALL_MANAGERS_CAN_VIEW":  AudienceManagers,
		"ALL_OWNERS_CAN_VIEW":    AudienceOwners,
	},
	"whoCanViewGroup": {
		"ANYONE_CAN_VIEW":        AudienceAnyone,
		"ALL_IN_DOMAIN_CAN_VIEW": AudienceDomain,
		"ALL_MEMBERS_CAN_VIEW":   AudienceMembers,
		"ALL_MANAGERS_CAN_VIEW":  AudienceManagers,
		"ALL_OWNERS_CAN_VIEW":    AudienceOwners,
	},
	"whoCanDiscoverGroup": {
		"ANYONE_CAN_DISCOVER":        AudienceAnyone,
		"ALL_IN_DOMAIN_CAN_DISCOVER": AudienceDomain,
		"ALL_MEMBERS_CAN_DISCOVER":   AudienceMembers,
	},
}

// A constraint says the Narrow field may reach no further than the Wide field: nobody may
// see a group's members who cannot find the group or read it. Google refuses a patch that
// breaks one with 400, so Plan narrows Narrow along with Wide.
type constraint struct {
	Narrow, Wide string
}

// Constraints Greep applies when it builds a patch:
//
//   - whoCanViewMembership no broader than whoCanDiscoverGroup, nor than whoCanViewGroup
//     (Google refuses both with 400, and showing the member list to people who may not
//     find or read the group would defeat locking the group down);
//   - whoCanPostMessage NONE_CAN_POST exactly when archiveOnly is "true" (Google's rule):
//     the field a rule asked for stands and the other follows (archiveOnly "false" on a
//     NONE_CAN_POST group reopens posting to ALL_MANAGERS_CAN_POST, the narrowest);
//   - replyTo REPLY_TO_CUSTOM and includeCustomFooter "true" need a free text no rule can
//     supply, so a patch to them is refused unless the group already has the text.
var constraints = []constraint{
	{Narrow: "whoCanViewMembership", Wide: "whoCanDiscoverGroup"},
	{Narrow: "whoCanViewMembership", Wide: "whoCanViewGroup"},
}

// widest returns field's broadest value that reaches no further than limit.
func widest(field string, limit Audience) (string, bool) {
	best, found := "", false
	var bestA Audience
	for v, a := range audience[field] {
		if a <= limit && (!found || a > bestA) {
			best, bestA, found = v, a, true
		}
	}
	return best, found
}

// Plan turns the values the rules want into one combination the API accepts, given the
// group's current settings: it returns the patch (the wanted values plus every related
// field that must change with them) and, per added field, why it was added. A wanted value
// is never widened; a related field is only ever narrowed.
func Plan(current map[string]string, want map[string]string) (patch map[string]string, why map[string]string, err error) {
	patch = make(map[string]string, len(want))
	why = map[string]string{}
	for k, v := range want {
		if err := CheckValue(k, v); err != nil {
			return nil, nil, err
		}
		if text, ok := needsText[[2]string{k, v}]; ok && current[text] == "" {
			return nil, nil, fmt.Errorf("%s=%s needs a %s, which a rule cannot supply", k, v, text)
		}
		patch[k] = v
	}
	value := func(f string) string {
		if v, ok := patch[f]; ok {
			return v
		}
		return current[f]
	}
	// Each pass can only narrow a field, and fields have few values, so this settles
	// in a few passes; the bound guards against a cycle in a future table.
	for pass := 0; pass < 8; pass++ {
		changed := false
		for _, c := range constraints {
			nv, wv := value(c.Narrow), value(c.Wide)
			na, nok := audience[c.Narrow][nv]
			wa, wok := audience[c.Wide][wv]
			if !nok || !wok || na <= wa {
				continue
			}
			// Even a value a rule asked for is narrowed here: narrower is never less safe.
			nv2, ok := widest(c.Narrow, wa)
			if !ok {
				return nil, nil, fmt.Errorf("no value of %s is as narrow as %s=%s", c.Narrow, c.Wide, wv)
			}
			patch[c.Narrow] = nv2
			why[c.Narrow] = fmt.Sprintf("%s may not be broader than %s (%s)", c.Narrow, c.Wide, wv)
			changed = true
		}
		// Archive-only groups take no posts and only they take NONE_CAN_POST. Whichever
		// side the rules asked for stands; the other follows.
		none, archive := value("whoCanPostMessage") == "NONE_CAN_POST", value("archiveOnly") == "true"
		if none != archive {
			_, postWanted := want["whoCanPostMessage"]
			_, archiveWanted := want["archiveOnly"]
			switch {
			case archiveWanted || !postWanted && archive:
				if archive {
					patch["whoCanPostMessage"] = "NONE_CAN_POST"
					why["whoCanPostMessage"] = "an archive-only group takes NONE_CAN_POST"
				} else {
					patch["whoCanPostMessage"] = "ALL_MANAGERS_CAN_POST"
					why["whoCanPostMessage"] = "NONE_CAN_POST needs archiveOnly=true"
				}
			default:
				patch["archiveOnly"] = fmt.Sprint(none)
				why["archiveOnly"] = "archiveOnly=true goes with whoCanPostMessage=NONE_CAN_POST and only with it"
			}
			changed = true
		}
		if !changed {
			return patch, why, nil
		}
	}
	return nil, nil, fmt.Errorf("settings constraints did not settle for %v", sortedKeys(want))
}

// needsText are values the API accepts only with a free-text field Greep cannot invent.
var needsText = map[[2]string]string{
	{"replyTo", "REPLY_TO_CUSTOM"}:  "customReplyTo",
	{"includeCustomFooter", "true"}: "customFooterText",
}

// Valid reports the first constraint the settings break, or nil.
func Valid(s map[string]string) error {
	for _, c := range constraints {
		na, nok := audience[c.Narrow][s[c.Narrow]]
		wa, wok := audience[c.Wide][s[c.Wide]]
		if nok && wok && na > wa {
			return fmt.Errorf("%s=%s is broader than %s=%s", c.Narrow, s[c.Narrow], c.Wide, s[c.Wide])
		}
	}
	if (s["whoCanPostMessage"] == "NONE_CAN_POST") != (s["archiveOnly"] == "true") {
		return fmt.Errorf("whoCanPostMessage=%s does not go with archiveOnly=%s", s["whoCanPostMessage"], s["archiveOnly"])
	}
	for kv, text := range needsText {
		if s[kv[0]] == kv[1] && s[text] == "" {
			return fmt.Errorf("%s=%s needs a %s", kv[0], kv[1], text)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
