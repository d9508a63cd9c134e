package remediation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/rules"
)

// StateExemptionIDs is the state document binding each exemption the rules file writes
// with an email to the id of the group that email named when the cache first knew it
// (JSON: email -> group id).
const StateExemptionIDs = "remediation-exemption-ids"

// ExemptionStore is what exemption matching needs of the cache.
type ExemptionStore interface {
	// Group finds a group by email or alias (Google keeps a renamed group's old address as
	// an alias).
	Group(ctx context.Context, key string) (greep.Group, error)
	greep.StateStore
}

// Exemption is the exemption in force at now for group g, or nil: the one lookup every
// caller deciding whether to leave a group alone uses (the evaluation here, and a worker
// re-checking before it patches). It matches by group id, so a renamed group stays exempt.
func Exemption(ctx context.Context, s ExemptionStore, rc *rules.Config, g greep.Group, now time.Time) (*rules.Exemption, error) {
	ids, err := ExemptionIDs(ctx, s, rc)
	if err != nil {
		return nil, err
	}
	return rc.ExemptionOf(g.ID, ids, now), nil
}

// ExemptionIDs returns the bindings of the rules file's emailed exemptions to group ids,
// binding those not bound yet through the cache and storing the new bindings. A binding,
// once stored, is kept: it is what carries the exemption through a rename, and a new group
// that later takes the old address does not inherit it. An email the cache does not know
// (yet) stays unbound and exempts nothing until a sync brings its group.
func ExemptionIDs(ctx context.Context, s ExemptionStore, rc *rules.Config) (map[string]string, error) {
	byEmail := false
	for _, e := range rc.Exemptions {
		byEmail = byEmail || !e.ByID()
	}
	if !byEmail {
		return nil, nil
	}
	var ids map[string]string
	if _, err := greep.LoadState(ctx, s, StateExemptionIDs, &ids); err != nil {
		return nil, fmt.Errorf("exemptions: %w", err)
	}
	bind := map[string]string{}
	for _, e := range rc.Exemptions {
		if e.ByID() || ids[e.Group] != "" {
			continue
		}
		g, err := s.Group(ctx, e.Group)
		if errors.Is(err, greep.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("exemptions: resolving %s: %w", e.Group, err)
		}
		bind[e.Group] = g.ID
	}
	if len(bind) == 0 {
		return ids, nil
	}
	ids, err := greep.UpdateStateJSON(ctx, s, StateExemptionIDs, func(m *map[string]string) error {
		if *m == nil {
			*m = map[string]string{}
		}
		for email, id := range bind {
			if (*m)[email] == "" { // a concurrent evaluation bound it first: keep that
				(*m)[email] = id
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("exemptions: storing bindings: %w", err)
	}
	return ids, nil
}
