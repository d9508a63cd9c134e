package remediation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/rules"
)

// PatchStore is what PatchCheck reads: the group, its members (a sentinel makes it
// secure), its stored settings and the exemptions' bindings to group ids.
type PatchStore interface {
	ExemptionStore
	Members(ctx context.Context, groupID string) ([]greep.Member, error)
	Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error)
}

// PatchCheck re-checks a settings patch when the groupssettings worker is about to send
// it: the rules file, the remediation mode and the exemptions in force then, applied to
// the group's stored settings and members, must ask for that very change. A forged or
// stale task therefore cannot loosen a setting, whatever reached the task path.
type PatchCheck struct {
	Rules *rules.Config
	Mode  string // overrides Rules.Mode when set, as the remediation service's
	Store PatchStore
	Now   func() time.Time
}

// Allow returns why the patch may not be sent ("" when it may), or an error when the
// check could not be made (the store failed: the task is retried).
func (c PatchCheck) Allow(ctx context.Context, group string, patch map[string]string) (string, error) {
	if c.Rules == nil {
		return "no rules file is loaded", nil
	}
	mode := c.Mode
	if mode == "" {
		mode = c.Rules.Mode
	}
	if mode != rules.ModeRemediate {
		return "the remediation mode is " + mode, nil
	}
	group = strings.ToLower(strings.TrimSpace(group))
	g, err := c.Store.Group(ctx, group)
	if errors.Is(err, greep.ErrNotFound) {
		return "the group is not in the cache", nil
	}
	if err != nil {
		return "", fmt.Errorf("checking the patch of %s: %w", group, err)
	}
	gs, err := c.Store.Settings(ctx, group)
	if errors.Is(err, greep.ErrNotFound) {
		return "the group's settings were never read", nil
	}
	if err != nil {
		return "", fmt.Errorf("checking the patch of %s: %w", group, err)
	}
	members, err := c.Store.Members(ctx, g.ID)
	if err != nil {
		return "", fmt.Errorf("checking the patch of %s: %w", group, err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	// The evaluation's own exemption lookup (by group id, through the bindings), so the
	// check and the evaluation that queued the patch can never disagree on it.
	ids, err := ExemptionIDs(ctx, c.Store, c.Rules)
	if err != nil {
		return "", fmt.Errorf("checking the patch of %s: %w", group, err)
	}
	res, err := c.Rules.Evaluate(rules.Input{Group: group, GroupID: g.ID, ExemptionIDs: ids, Settings: gs.Settings, Members: members}, now())
	if err != nil {
		return "", fmt.Errorf("checking the patch of %s: %w", group, err)
	}
	if res.Exemption != nil {
		return "the group is exempt: " + res.Exemption.Reason, nil
	}
	for _, field := range slices.Sorted(maps.Keys(patch)) {
		v := patch[field]
		if want, ok := res.Patch[field]; ok && want == v {
			continue
		}
		// A value the group already has changes nothing: a task run again after its
		// patch went through (and was stored) passes, as long as no rule calls the
		// value unsafe.
		if gs.Settings[field] == v && !c.unsafe(field, v) {
			continue
		}
		return fmt.Sprintf("the rules do not ask for %s=%s", field, v), nil
	}
	return "", nil
}

// unsafe reports whether any rule, general or secure, calls value unsafe for field.
func (c PatchCheck) unsafe(field, value string) bool {
	for _, r := range slices.Concat(c.Rules.Rules, c.Rules.Secure.Rules) {
		if r.Field == field && slices.Contains(r.Unsafe, value) {
			return true
		}
	}
	return false
}
