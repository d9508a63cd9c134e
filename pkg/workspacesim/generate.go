package workspacesim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SentinelLocalPart is the local part of the sentinel user: a group holding
// SentinelLocalPart@domain (Sim.Sentinel) as a member is a "secure" group.
const SentinelLocalPart = "secure-sentinel"

// membersPerGroup is the origin tenant's mean (373,000 memberships / 45,000 groups).
const membersPerGroup = 373000.0 / 45000.0

// idGen hands out unique, deterministic ids: splitmix64 is a bijection of its counter.
type idGen struct{ n uint64 }

func (g *idGen) next() uint64 {
	g.n++
	z := g.n * 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (g *idGen) userID() string  { return fmt.Sprintf("1%020d", g.next()) }
func (g *idGen) groupID() string { return "0" + fmt.Sprintf("%013s", strconv.FormatUint(g.next(), 36)) }

// tenant is what generation makes: the principals (shared by every state) and the
// initial groups.
type tenant struct {
	byKey    map[string]*principal // lower-case email, alias or id -> principal
	users    []*principal          // the tenant's users, sorted by email
	customer *principal
	state    *state
}

func (t *tenant) add(p *principal) {
	if p.email != "" {
		t.byKey[p.email] = p
	}
	t.byKey[p.id] = p
	for _, a := range p.aliases {
		t.byKey[a] = p
	}
	for _, a := range p.nonEditable {
		t.byKey[a] = p
	}
}

// testDomainAlias is the non-editable alias Google gives an address of the tenant's
// primary domain: the same local part in the domain's test domain.
func testDomainAlias(email string) []string {
	return []string{email + testDomainSuffix}
}

const testDomainSuffix = ".test-google-a.com"

// ownDomain tells whether d (lower case) is one of the tenant's domains: its primary
// domain or that domain's test domain.
func (s *Sim) ownDomain(d string) bool {
	return d == s.cfg.Domain || d == s.cfg.Domain+testDomainSuffix
}

var (
	givenNames  = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor", "wendy", "yuki", "zoe", "hana", "kenji", "sora", "ren", "mei", "taro"}
	familyNames = []string{"tanaka", "suzuki", "sato", "smith", "jones", "garcia", "muller", "rossi", "kim", "nguyen", "silva", "dubois", "novak", "ito", "kato", "watanabe", "brown", "wilson", "martin", "lee"}
	groupKinds  = []string{"team", "proj", "ops", "eng", "sales", "acl", "sec", "vpn", "slack", "kintone", "ad", "list", "all", "hr", "fin"}
	groupWords  = []string{"alpha", "bravo", "delta", "atlas", "nimbus", "orion", "pixel", "quartz", "sakura", "fuji", "tokyo", "osaka", "berlin", "lisbon", "infra", "payroll", "release", "oncall", "design", "legal"}
)

// generate builds the synthetic tenant of cfg deterministically from cfg.Seed.
func generate(cfg Config, ids *idGen, now time.Time) *tenant {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed5eed5eed5eed))
	domain := cfg.Domain
	t := &tenant{byKey: map[string]*principal{}, state: newState()}

	t.customer = &principal{id: "C0" + fmt.Sprintf("%07s", strconv.FormatUint(ids.next()%78364164096, 36)), typ: typeCustomer, status: statusActive}
	t.byKey[t.customer.id] = t.customer

	// Users: the admin and the sentinel first, then people; a few suspended or archived
	// (they stay in their groups, which is what hygiene checks look for).
	nUsers := max(cfg.Users, 2)
	for i := range nUsers {
		u := &user{created: now.Add(-time.Duration(rng.IntN(3*365*24)) * time.Hour)}
		var email string
		var aliases []string
		switch i {
		case 0:
			u.given, u.family, u.admin = "admin", "greep", true
			email = "admin@" + domain
		case 1:
			u.given, u.family = "secure", "sentinel"
			email = SentinelLocalPart + "@" + domain
		default:
			u.given = givenNames[rng.IntN(len(givenNames))]
			u.family = familyNames[rng.IntN(len(familyNames))]
			email = fmt.Sprintf("%s.%s%d@%s", u.given, u.family, i, domain)
			switch r := rng.Float64(); {
			case r < 0.02:
				u.suspended = true
			case r < 0.03:
				u.archived = true
			}
			if rng.Float64() < 0.03 {
				aliases = []string{fmt.Sprintf("%c%s%d@%s", u.given[0], u.family, i, domain)}
			}
		}
		status := statusActive
		if u.suspended {
			status = statusSuspended
		} else if u.archived {
			status = statusArchived
		}
		p := &principal{id: ids.userID(), email: email, typ: typeUser, status: status, aliases: aliases, nonEditable: testDomainAlias(email), user: u}
		t.users = append(t.users, p)
		t.add(p)
	}
	slices.SortFunc(t.users, func(a, b *principal) int { return strings.Compare(a.email, b.email) })
	sentinel := t.byKey[SentinelLocalPart+"@"+domain]

	// Outside addresses some groups hold.
	externals := make([]*principal, max(10, nUsers/10))
	for i := range externals {
		email := fmt.Sprintf("ext.%d@gmail.com", i)
		if i%2 == 1 {
			email = fmt.Sprintf("partner%d@partner.example", i)
		}
		externals[i] = &principal{id: ids.userID(), email: email, typ: typeUser, status: statusActive, external: true}
		t.add(externals[i])
	}

	// Groups, made in email order so every memberOf list is built sorted.
	nGroups := max(cfg.Groups, 0)
	groups := make([]*group, nGroups)
	interned := map[settingValues]*settingValues{}
	for i := range groups {
		kind, word := groupKinds[rng.IntN(len(groupKinds))], groupWords[rng.IntN(len(groupWords))]
		local := fmt.Sprintf("%s-%s-%d", kind, word, i)
		p := &principal{id: ids.groupID(), email: local + "@" + domain, typ: typeGroup, status: statusActive}
		p.nonEditable = testDomainAlias(p.email)
		if rng.Float64() < 0.05 {
			p.aliases = []string{local + "-alias@" + domain}
		}
		t.add(p)
		v := randomSettings(rng)
		if iv, ok := interned[v]; ok {
			groups[i] = &group{p: p, settings: iv}
		} else {
			interned[v] = &v
			groups[i] = &group{p: p, settings: &v}
		}
		groups[i].name = fmt.Sprintf("%s %s %d", strings.ToUpper(kind[:1])+kind[1:], strings.ToUpper(word[:1])+word[1:], i)
		if rng.Float64() < 0.3 {
			groups[i].description = "Synthetic group " + local
		}
		groups[i].version = 1
	}

	sizes := groupSizes(rng, nGroups, len(t.users))
	perm := make([]int32, len(t.users))
	for i := range perm {
		perm[i] = int32(i)
	}
	for gi, g := range groups {
		s := sizes[gi]
		ms := make([]membership, 0, s+2)
		// A partial Fisher-Yates shuffle draws s distinct users in O(s).
		for j := range s {
			k := j + rng.IntN(len(perm)-j)
			perm[j], perm[k] = perm[k], perm[j]
			p := t.users[perm[j]]
			role := roleMember
			switch {
			case j == 0 && rng.Float64() < 0.7:
				role = roleOwner
			case j == 1 && rng.Float64() < 0.15:
				role = roleManager
			}
			ms = append(ms, membership{p: p, role: role})
		}
		if s > 0 {
			if rng.Float64() < 0.04 {
				for range 1 + rng.IntN(3) {
					ms = append(ms, membership{p: externals[rng.IntN(len(externals))], role: roleMember})
				}
			}
			if rng.Float64() < 0.02 {
				ms = append(ms, membership{p: sentinel, role: roleMember})
			}
			if rng.Float64() < 0.002 {
				ms = append(ms, membership{p: t.customer, role: roleMember})
			}
		}
		// Nested groups point to later groups only, so the only cycle is the one made below.
		if gi+1 < nGroups && rng.Float64() < 0.03 {
			for range 1 + rng.IntN(2) {
				child := groups[gi+1+rng.IntN(nGroups-gi-1)]
				ms = append(ms, membership{p: child.p, role: roleMember})
			}
		}
		g.members = dedupeMembers(ms)
	}
	// One deliberate cycle: the last two groups made contain each other.
	if nGroups >= 4 {
		a, b := groups[nGroups-2], groups[nGroups-1]
		a.members = dedupeMembers(append(a.members, membership{p: b.p, role: roleMember}))
		b.members = dedupeMembers(append(b.members, membership{p: a.p, role: roleMember}))
	}

	slices.SortFunc(groups, func(a, b *group) int { return strings.Compare(a.p.email, b.p.email) })
	st := t.state
	st.groups = groups
	for _, g := range groups {
		st.byP[g.p] = g
		for _, m := range g.members {
			st.memberOf[m.p] = append(st.memberOf[m.p], g)
		}
	}
	return t
}

func dedupeMembers(ms []membership) []membership {
	slices.SortStableFunc(ms, func(a, b membership) int { return memberLess(a.p, b.p) })
	return slices.CompactFunc(ms, func(a, b membership) bool { return a.p == b.p })
}

// groupSizes draws how many users each group holds: some empty, most small (a Pareto
// tail), and one in 4,000 with thousands, so paging matters; the total is then nudged to
// the origin tenant's mean.
func groupSizes(rng *rand.Rand, nGroups, nUsers int) []int {
	sizes := make([]int, nGroups)
	smallCap := min(300, nUsers)
	big := map[int]bool{}
	if nGroups >= 20 {
		for range max(1, nGroups/4000) {
			big[rng.IntN(nGroups)] = true
		}
	}
	total := 0
	for i := range sizes {
		switch {
		case big[i]:
			lo, hi := min(nUsers, 1000), min(nUsers, 4000)
			sizes[i] = lo + rng.IntN(hi-lo+1)
		case rng.Float64() < 0.06:
			sizes[i] = 0
			continue
		default:
			s := int(1 / math.Pow(1-rng.Float64(), 1/1.6))
			sizes[i] = min(max(s, 1), smallCap)
		}
		total += sizes[i]
	}
	// Extras (outside members, nested groups, the sentinel) add about 0.2 per group.
	target := int(math.Round((membersPerGroup - 0.2) * float64(nGroups)))
	// Each try moves the total by one or misses (a big, empty or capped group): bound the
	// tries so a target out of reach cannot loop forever.
	maxTries := 4*nGroups + 8*abs(target-total)
	for tries := 0; total != target && tries < maxTries; tries++ {
		i := rng.IntN(nGroups)
		if big[i] || sizes[i] == 0 {
			continue
		}
		if total < target && sizes[i] < smallCap {
			sizes[i]++
			total++
		} else if total > target && sizes[i] > 1 {
			sizes[i]--
			total--
		}
	}
	return sizes
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

type weighted struct {
	value  string
	weight float64
}

func pick(rng *rand.Rand, choices ...weighted) string {
	r := rng.Float64()
	for _, c := range choices {
		if r < c.weight {
			return c.value
		}
		r -= c.weight
	}
	return choices[len(choices)-1].value
}

func boolShare(rng *rand.Rand, share float64) string {
	if rng.Float64() < share {
		return "true"
	}
	return "false"
}

// randomSettings draws a group's settings with a realistic share of insecure values, then
// repairs them into a combination Google accepts.
func randomSettings(rng *rand.Rand) settingValues {
	v := defaultSettings()
	v.set("whoCanViewGroup", pick(rng, weighted{"ALL_MEMBERS_CAN_VIEW", .62}, weighted{"ALL_IN_DOMAIN_CAN_VIEW", .25},
		weighted{"ANYONE_CAN_VIEW", .05}, weighted{"ALL_MANAGERS_CAN_VIEW", .06}, weighted{"ALL_OWNERS_CAN_VIEW", .02}))
	v.set("whoCanDiscoverGroup", pick(rng, weighted{"ALL_IN_DOMAIN_CAN_DISCOVER", .70}, weighted{"ALL_MEMBERS_CAN_DISCOVER", .25},
		weighted{"ANYONE_CAN_DISCOVER", .05}))
	v.set("whoCanViewMembership", pick(rng, weighted{"ALL_MEMBERS_CAN_VIEW", .55}, weighted{"ALL_IN_DOMAIN_CAN_VIEW", .35},
		weighted{"ALL_MANAGERS_CAN_VIEW", .08}, weighted{"ALL_OWNERS_CAN_VIEW", .02}))
	v.set("whoCanJoin", pick(rng, weighted{"CAN_REQUEST_TO_JOIN", .50}, weighted{"INVITED_CAN_JOIN", .30},
		weighted{"ALL_IN_DOMAIN_CAN_JOIN", .17}, weighted{"ANYONE_CAN_JOIN", .03}))
	v.set("allowExternalMembers", boolShare(rng, .12))
	v.set("whoCanPostMessage", pick(rng, weighted{"ALL_MEMBERS_CAN_POST", .50}, weighted{"ALL_IN_DOMAIN_CAN_POST", .25},
		weighted{"ANYONE_CAN_POST", .10}, weighted{"ALL_MANAGERS_CAN_POST", .10}, weighted{"ALL_OWNERS_CAN_POST", .05}))
	if rng.Float64() < 0.01 {
		v.set("archiveOnly", "true")
		v.set("whoCanPostMessage", "NONE_CAN_POST")
	}
	v.set("allowWebPosting", boolShare(rng, .8))
	v.set("isArchived", boolShare(rng, .1))
	v.set("messageModerationLevel", pick(rng, weighted{"MODERATE_NONE", .85}, weighted{"MODERATE_NON_MEMBERS", .10},
		weighted{"MODERATE_NEW_MEMBERS", .03}, weighted{"MODERATE_ALL_MESSAGES", .02}))
	v.set("spamModerationLevel", pick(rng, weighted{"MODERATE", .80}, weighted{"SILENTLY_MODERATE", .10},
		weighted{"ALLOW", .08}, weighted{"REJECT", .02}))
	v.set("replyTo", pick(rng, weighted{"REPLY_TO_IGNORE", .70}, weighted{"REPLY_TO_LIST", .15}, weighted{"REPLY_TO_SENDER", .10},
		weighted{"REPLY_TO_OWNER", .03}, weighted{"REPLY_TO_MANAGERS", .02}))
	v.set("whoCanContactOwner", pick(rng, weighted{"ALL_IN_DOMAIN_CAN_CONTACT", .60}, weighted{"ALL_MEMBERS_CAN_CONTACT", .20},
		weighted{"ANYONE_CAN_CONTACT", .10}, weighted{"ALL_MANAGERS_CAN_CONTACT", .08}, weighted{"ALL_OWNERS_CAN_CONTACT", .02}))
	v.set("whoCanLeaveGroup", pick(rng, weighted{"ALL_MEMBERS_CAN_LEAVE", .85}, weighted{"NONE_CAN_LEAVE", .10},
		weighted{"ALL_MANAGERS_CAN_LEAVE", .05}))
	v.set("whoCanModerateMembers", pick(rng, weighted{"OWNERS_AND_MANAGERS", .80}, weighted{"OWNERS_ONLY", .10},
		weighted{"ALL_MEMBERS", .05}, weighted{"NONE", .05}))
	v.set("whoCanModerateContent", pick(rng, weighted{"OWNERS_AND_MANAGERS", .80}, weighted{"OWNERS_ONLY", .10},
		weighted{"ALL_MEMBERS", .05}, weighted{"NONE", .05}))
	v.set("includeInGlobalAddressList", boolShare(rng, .9))
	v.set("membersCanPostAsTheGroup", boolShare(rng, .05))
	v.set("enableCollaborativeInbox", boolShare(rng, .05))

	// Repair: membership visibility may not be broader than the group's visibility or
	// discoverability.
	limit := min(viewGroupBreadth[v.get("whoCanViewGroup")], discoverBreadth[v.get("whoCanDiscoverGroup")])
	if viewMembershipBreadth[v.get("whoCanViewMembership")] > limit {
		for _, cand := range []string{"ALL_MEMBERS_CAN_VIEW", "ALL_MANAGERS_CAN_VIEW", "ALL_OWNERS_CAN_VIEW"} {
			if viewMembershipBreadth[cand] <= limit {
				v.set("whoCanViewMembership", cand)
				break
			}
		}
	}
	return v
}
