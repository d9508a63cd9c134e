package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// FieldMember is the Finding.Field of membership hygiene findings.
const FieldMember = "member"

// Rule name prefixes of membership hygiene findings; the member's address follows, so each
// (group, member) pair is its own finding.
const (
	RuleInactiveMember = "member.inactive:"
	RuleExternalMember = "member.external:"
)

// Input is what Evaluate looks at for one group.
type Input struct {
	Group   string // email
	GroupID string
	// ExemptionIDs binds the exemptions that name a group by email to the group id the
	// email belonged to when first seen (see ExemptionOf).
	ExemptionIDs map[string]string
	// Settings are the group's stored settings; nil when they were never read, which
	// skips the settings rules (and the external-member check of non-secure groups).
	Settings map[string]string
	// Members are the group's direct members.
	Members []greep.Member
	// Users are the tenant's users known to the cache, by lower-case primary email. A
	// member missing here is judged by its Member.Status alone.
	Users map[string]greep.User
}

// Violation is one rule one group breaks: it becomes (or updates) the finding of
// (group, Rule).
type Violation struct {
	Rule    string
	Field   string
	Current string // the unsafe value seen (for members: the member's state)
	// Safe is the value the patch sets; empty for what only a person can fix (members).
	Safe   string
	Member string // membership findings only
	Detail string
}

// Result is the verdict on one group.
type Result struct {
	// Secure is true when a sentinel is among the group's members.
	Secure bool
	// Exemption is the exemption in force for the group, if any: its violations are
	// recorded but nothing is patched.
	Exemption *Exemption
	// Violations are sorted by rule name.
	Violations []Violation
	// Patch fixes every settings violation as one combination the API accepts; nil when
	// there is nothing to patch (or the group is exempt). Why says, per field the
	// constraints added, what made it necessary.
	Patch map[string]string
	Why   map[string]string
}

// ExemptionOf is the exemption in force at now for the group whose id is groupID, or nil.
// It is the one place an exemption is matched to a group: by id, never by the group's
// current email, so renaming a group does not drop its exemption. An exemption that names
// its group by email matches through ids, which maps the file's emails to the group ids
// they were bound to (remediation.ExemptionIDs keeps that map in the store); until its
// email is bound it matches no group.
func (c *Config) ExemptionOf(groupID string, ids map[string]string, now time.Time) *Exemption {
	if groupID == "" {
		return nil
	}
	for i := range c.Exemptions {
		e := c.Exemptions[i]
		id := e.Group
		if !e.ByID() {
			id = ids[e.Group]
		}
		if id == groupID && e.Active(now) {
			return &e
		}
	}
	return nil
}

// Evaluate checks one group against the rules at time now.
func (c *Config) Evaluate(in Input, now time.Time) (Result, error) {
	var res Result
	for _, m := range in.Members {
		if contains(c.Secure.Sentinels, strings.ToLower(m.Email)) {
			res.Secure = true
			break
		}
	}
	res.Exemption = c.ExemptionOf(in.GroupID, in.ExemptionIDs, now)

	if in.Settings != nil {
		applicable := c.Rules
		// want holds, per field, the value the patch sets. In a secure group a secure
		// rule's safe value wins on its field, even when only the general rule is broken:
		// the general safe value may be one the secure rule calls unsafe.
		want := map[string]string{}
		secureSafe := map[string]string{}
		if res.Secure {
			applicable = append(append([]Rule{}, c.Rules...), c.Secure.Rules...)
			for _, r := range c.Secure.Rules {
				secureSafe[r.Field] = r.Safe
			}
		}
		for _, r := range applicable {
			cur, ok := in.Settings[r.Field]
			if !ok || !contains(r.Unsafe, cur) {
				continue
			}
			if s, ok := secureSafe[r.Field]; ok {
				want[r.Field] = s
			} else {
				want[r.Field] = r.Safe
			}
			res.Violations = append(res.Violations, Violation{Rule: r.Name, Field: r.Field, Current: cur})
		}
		if len(want) > 0 {
			patch, why, err := Plan(in.Settings, want)
			if err != nil {
				return Result{}, fmt.Errorf("group %s: %w", in.Group, err)
			}
			for i := range res.Violations {
				v := &res.Violations[i]
				v.Safe = patch[v.Field]
				v.Detail = fmt.Sprintf("%s is %s; safe is %s", v.Field, v.Current, v.Safe)
			}
			if res.Exemption == nil {
				res.Patch, res.Why = patch, why
			}
		}
	}

	res.Violations = append(res.Violations, c.membership(in, strings.ToLower(in.Group), res.Secure)...)
	sort.Slice(res.Violations, func(i, j int) bool { return res.Violations[i].Rule < res.Violations[j].Rule })
	return res, nil
}

func (c *Config) membership(in Input, group string, secure bool) []Violation {
	var out []Violation
	checkInactive := c.Membership.Inactive == nil || *c.Membership.Inactive
	checkExternal := c.Membership.External == nil || *c.Membership.External
	externalMatters := secure || (in.Settings != nil && in.Settings["allowExternalMembers"] == "false")
	domains := c.Domains
	if len(domains) == 0 {
		domains = []string{domainOf(group)}
	}
	for _, m := range in.Members {
		email := strings.ToLower(m.Email)
		if email == "" || m.Type == greep.TypeCustomer {
			continue // "everyone in the customer": no address to judge
		}
		if checkInactive {
			state := ""
			switch {
			case m.Status == "SUSPENDED", in.Users[email].Suspended:
				state = "SUSPENDED"
			case m.Status == "ARCHIVED", in.Users[email].Archived:
				state = "ARCHIVED"
			}
			if state != "" {
				out = append(out, Violation{
					Rule: RuleInactiveMember + email, Field: FieldMember, Member: email, Current: state,
					Detail: fmt.Sprintf("%s is a %s user and still a %s of the group", email, strings.ToLower(state), roleOr(m.Role)),
				})
			}
		}
		if checkExternal && externalMatters && !contains(domains, domainOf(email)) {
			why := "the group does not allow external members"
			if secure {
				why = "the group is secure"
			}
			out = append(out, Violation{
				Rule: RuleExternalMember + email, Field: FieldMember, Member: email, Current: "EXTERNAL",
				Detail: fmt.Sprintf("%s is outside the tenant's domains and a %s of the group, but %s", email, roleOr(m.Role), why),
			})
		}
	}
	return out
}

func roleOr(role string) string {
	if role == "" {
		return "MEMBER"
	}
	return role
}

func domainOf(email string) string {
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return strings.ToLower(email[i+1:])
	}
	return ""
}
