package workspacesim

import (
	"errors"
	"fmt"
)

// Truth is the simulator's actual state (never lagged), as /sim/v1/truth serves it.
type Truth struct {
	Groups []TruthGroup `json:"groups"`
	Users  []TruthUser  `json:"users,omitempty"`
}

// TruthGroup is one group with its direct members and settings. In a whole-tenant Truth,
// groups with equal settings share one Settings map: treat it as read-only.
type TruthGroup struct {
	ID                 string            `json:"id"`
	Email              string            `json:"email"`
	Aliases            []string          `json:"aliases"`
	NonEditableAliases []string          `json:"nonEditableAliases,omitempty"`
	Name               string            `json:"name"`
	Description        string            `json:"description,omitempty"`
	DirectMembersCount int64             `json:"directMembersCount"`
	ETag               string            `json:"etag"`
	Members            []TruthMember     `json:"members"`
	Settings           map[string]string `json:"settings"`
}

// TruthMember is one direct member.
type TruthMember struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

// TruthUser is one user of the tenant.
type TruthUser struct {
	ID                 string   `json:"id"`
	PrimaryEmail       string   `json:"primaryEmail"`
	Aliases            []string `json:"aliases,omitempty"`
	NonEditableAliases []string `json:"nonEditableAliases,omitempty"`
	Suspended          bool     `json:"suspended,omitempty"`
	Archived           bool     `json:"archived,omitempty"`
}

// ErrNoGroup is returned by Truth for a group the tenant does not have.
var ErrNoGroup = errors.New("workspacesim: no such group")

// Truth returns the actual state of one group (its email, alias or id), or of the whole
// tenant, users included, if groupKey is "".
func (s *Sim) Truth(groupKey string) (Truth, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if groupKey != "" {
		g, err := s.group(s.actual, groupKey, "group")
		if err != nil {
			return Truth{}, fmt.Errorf("%w: %s", ErrNoGroup, groupKey)
		}
		return Truth{Groups: []TruthGroup{truthGroup(g, nil)}}, nil
	}
	t := Truth{Groups: make([]TruthGroup, 0, len(s.actual.groups)), Users: make([]TruthUser, 0, len(s.t.users))}
	// Groups share a few hundred combinations of settings; so do their maps, which keeps
	// the whole-tenant truth of a 45,000-group tenant small.
	maps := map[*settingValues]map[string]string{}
	for _, g := range s.actual.groups {
		tg := truthGroup(g, maps[g.settings])
		maps[g.settings] = tg.Settings
		t.Groups = append(t.Groups, tg)
	}
	for _, p := range s.t.users {
		t.Users = append(t.Users, TruthUser{ID: p.id, PrimaryEmail: p.email, Aliases: p.aliases, NonEditableAliases: p.nonEditable, Suspended: p.user.suspended, Archived: p.user.archived})
	}
	return t, nil
}

// truthGroup describes g, with settings as the map of its settings if not nil.
func truthGroup(g *group, settings map[string]string) TruthGroup {
	if settings == nil {
		settings = g.settings.Map()
	}
	tg := TruthGroup{
		ID: g.p.id, Email: g.p.email, Aliases: g.p.aliases, NonEditableAliases: g.p.nonEditable, Name: g.name, Description: g.description,
		DirectMembersCount: int64(len(g.members)), ETag: groupETag(g),
		Members:  make([]TruthMember, len(g.members)),
		Settings: settings,
	}
	if tg.Aliases == nil {
		tg.Aliases = []string{}
	}
	for i, m := range g.members {
		tg.Members[i] = TruthMember{ID: m.p.id, Email: m.p.email, Role: m.role, Type: m.p.typ, Status: m.p.status}
	}
	return tg
}
