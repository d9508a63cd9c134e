package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/workspacesim"
)

// rulesSpec shapes the rules scenario: how many groups of each kind of change, and the
// simulated time between two changes (each group gets its own debounce window).
var rulesSpec = struct {
	perKind int
	every   time.Duration
}{perKind: 10, every: 10 * time.Second}

// The embedded rules' secure rule (pkg/rules/example.yaml): a secure group must not let
// all members moderate.
const secureModeration = "secure.moderate-members"

// ruleChange is one member change that breaks a rule, and the finding it opens.
type ruleChange struct {
	add, remove workspacesim.Mutation
	group, rule string
}

// Rules measures how soon a membership change that breaks a rule shows as an open
// finding: the sentinel added to a group whose moderation a secure group may not have,
// an outside owner added to a group that does not allow outsiders, an inactive user
// added to a group. Each change is a notification through greep local's push channel
// (remediation in detect mode, the embedded rules); the figure is from the webhook
// accepting the notification (the debounce window's start) to the finding's first
// sighting, and again from the removal's notification to the finding fixed. No settings
// read may be needed for either.
func Rules(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		// Slow enough that a stalled wall second on a busy machine is 10 simulated ones,
		// not a minute: the figure is seconds after a two-minute debounce.
		o.TimeScale = 10
	}
	sc := workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale}
	e, err := startEnv(ctx, o, sc, nil)
	if err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.waitChannels(ctx, 2, time.Minute); err != nil {
		return nil, err
	}
	if err := waitFinished(ctx, e.app); err != nil {
		return nil, err
	}
	truth, err := e.sim.Truth("")
	if err != nil {
		return nil, err
	}
	inactive, err := e.inactiveUser(ctx, truth)
	if err != nil {
		return nil, err
	}
	truth, set, err := e.moderatedByAll(ctx, truth, inactive)
	if err != nil {
		return nil, err
	}
	changes, kinds := ruleChanges(truth, e.sim.Sentinel(), inactive)
	if len(changes) == 0 {
		return nil, errors.New("the tenant has no group a rule-breaking change fits")
	}
	// The settings sweep after the sync reads what the rules judge the changes against,
	// and the settings changed above are read again on their notification; both are
	// over before the changes start, so any settings read after is theirs.
	limit := time.Duration(float64(time.Hour)/o.TimeScale) + time.Minute
	if err := waitUntil(ctx, limit, "the settings sweep", func() (bool, error) {
		return e.sim.Stats().Calls["groupssettings.groups.get"] >= int64(len(truth.Groups)+set), nil
	}); err != nil {
		return nil, err
	}
	for _, g := range truth.Groups {
		if err := waitUntil(ctx, limit, "the settings of "+g.Email, func() (bool, error) {
			s, err := e.store.Settings(ctx, g.Email)
			return err == nil && s.Settings["whoCanModerateMembers"] == g.Settings["whoCanModerateMembers"], ignoreNotFound(err)
		}); err != nil {
			return nil, err
		}
	}

	before := e.sim.Stats()
	wait := time.Duration(float64(10*time.Minute)/o.TimeScale) + 30*time.Second
	opened, err := e.judged(ctx, changes, func(c ruleChange) workspacesim.Mutation { return c.add }, greep.FindingOpen, o.TimeScale, wait)
	if err != nil {
		return nil, err
	}
	fixed, err := e.judged(ctx, changes, func(c ruleChange) workspacesim.Mutation { return c.remove }, greep.FindingFixed, o.TimeScale, wait)
	if err != nil {
		return nil, err
	}
	// The findings are fixed on the removals' provisional changes; the debounced reads
	// that confirm them come after, and the cache equals the truth once they did.
	res := &Result{Scenario: "rules", TimeScale: o.TimeScale, Freshness: freshnessOf(opened, 0)}
	settled := time.Now().Add(time.Duration(float64(local.Defaults().Debounce+10*time.Minute)/o.TimeScale) + 30*time.Second)
	for {
		if err := e.tenantFigures(ctx, res); err != nil {
			return nil, err
		}
		if res.CacheEqualsTruth || time.Now().After(settled) {
			break
		}
		if err := sleepSim(ctx, 10*time.Second, o.TimeScale); err != nil {
			return nil, err
		}
	}
	d := delta(before, e.sim.Stats())
	e.fillCalls(res, d)
	res.Figures = map[string]any{
		"changes":                len(changes),
		"changesByKind":          kinds,
		"acceptedToFindingOpen":  freshnessOf(opened, 0),
		"acceptedToFindingFixed": freshnessOf(fixed, 0),
		"settingsReads":          d.calls["groupssettings.groups.get"],
		"debounceSeconds":        local.Defaults().Debounce.Seconds(),
	}
	return res, nil
}

// judged applies each change's mutation (one every rulesSpec.every) and waits for its
// finding to reach state; it returns, per change, the simulated time from the webhook
// accepting the notification to the finding's state.
func (e *env) judged(ctx context.Context, changes []ruleChange, mut func(ruleChange) workspacesim.Mutation, state string, scale float64, wait time.Duration) ([]time.Duration, error) {
	applied := make([]time.Time, len(changes))
	for i, c := range changes {
		applied[i] = e.sim.Now()
		if err := e.sim.Apply([]workspacesim.Mutation{mut(c)}); err != nil {
			return nil, fmt.Errorf("%s %s: %w", mut(c).Op, c.group, err)
		}
		if err := sleepSim(ctx, rulesSpec.every, scale); err != nil {
			return nil, err
		}
	}
	lags := make([]time.Duration, 0, len(changes))
	for i, c := range changes {
		var f greep.Finding
		if err := waitUntil(ctx, wait, c.rule+" "+state+" on "+c.group, func() (bool, error) {
			var err error
			f, err = e.store.Finding(ctx, remediation.FindingID(c.group, c.rule))
			return err == nil && f.State == state, ignoreNotFound(err)
		}); err != nil {
			return nil, err
		}
		var w struct {
			Start time.Time `json:"start"`
		}
		if _, err := greep.LoadState(ctx, e.store, push.StateName("refresh", c.group), &w); err != nil {
			return nil, err
		}
		at := f.FirstSeen
		if state == greep.FindingFixed {
			at = f.LastSeen
		}
		// A window opened before the change (by another notification) does not date
		// this one's acceptance; the change itself bounds it.
		accepted := w.Start
		if accepted.Before(applied[i]) {
			accepted = applied[i]
		}
		lags = append(lags, at.Sub(accepted))
	}
	// The next changes open windows of their own: this round's reads are done by then.
	end := applied[len(applied)-1].Add(local.Defaults().Debounce + rulesSpec.every)
	return lags, sleepSim(ctx, end.Sub(e.sim.Now()), scale)
}

// inactiveUser returns a suspended or archived user of the tenant, suspending an active
// one (and waiting for the cache to know) when the tenant has none.
func (e *env) inactiveUser(ctx context.Context, truth workspacesim.Truth) (string, error) {
	var active string
	for _, u := range truth.Users {
		switch {
		case u.Suspended || u.Archived:
			return u.PrimaryEmail, nil
		case active == "" && u.PrimaryEmail != e.sim.Admin() && u.PrimaryEmail != e.sim.Sentinel():
			active = u.PrimaryEmail
		}
	}
	if err := e.sim.Apply([]workspacesim.Mutation{{Op: "suspendUser", User: active}}); err != nil {
		return "", err
	}
	return active, waitUntil(ctx, time.Minute, "the suspension of "+active, func() (bool, error) {
		u, err := e.store.User(ctx, active)
		return err == nil && u.Suspended, ignoreNotFound(err)
	})
}

// moderatedByAll makes sure rulesSpec.perKind groups the sentinel can be added to let
// all members moderate (a small tenant may have none), and returns the truth after and
// how many groups it changed (each costs a settings read, after the debounce).
func (e *env) moderatedByAll(ctx context.Context, truth workspacesim.Truth, inactive string) (workspacesim.Truth, int, error) {
	var muts []workspacesim.Mutation
	have := 0
	for _, g := range truth.Groups {
		if !holds(g, e.sim.Sentinel()) && !holds(g, inactive) && g.Settings["whoCanModerateMembers"] == "ALL_MEMBERS" {
			have++
		}
	}
	for _, g := range truth.Groups {
		if have+len(muts) >= rulesSpec.perKind {
			break
		}
		if !holds(g, e.sim.Sentinel()) && !holds(g, inactive) && g.Settings["whoCanModerateMembers"] != "ALL_MEMBERS" {
			muts = append(muts, workspacesim.Mutation{Op: "setSettings", Group: g.Email, Settings: map[string]string{"whoCanModerateMembers": "ALL_MEMBERS"}})
		}
	}
	if len(muts) == 0 {
		return truth, 0, nil
	}
	if err := e.sim.Apply(muts); err != nil {
		return truth, 0, err
	}
	truth, err := e.sim.Truth("")
	return truth, len(muts), err
}

// ruleChanges picks rulesSpec.perKind groups for each kind of change, each group once,
// none holding the sentinel or the inactive user already.
func ruleChanges(truth workspacesim.Truth, sentinel, inactive string) ([]ruleChange, map[string]int) {
	var secure, outsider, stale []ruleChange
	for i, g := range truth.Groups {
		if holds(g, sentinel) || holds(g, inactive) {
			continue
		}
		mk := func(member, role, rule string) ruleChange {
			return ruleChange{
				add:    workspacesim.Mutation{Op: "addMember", Group: g.Email, Member: member, Role: role},
				remove: workspacesim.Mutation{Op: "removeMember", Group: g.Email, Member: member},
				group:  g.Email, rule: rule,
			}
		}
		switch out := fmt.Sprintf("outside%d@outside.example", i); {
		case len(secure) < rulesSpec.perKind && g.Settings["whoCanModerateMembers"] == "ALL_MEMBERS":
			secure = append(secure, mk(sentinel, "MEMBER", secureModeration))
		case len(outsider) < rulesSpec.perKind && g.Settings["allowExternalMembers"] == "false":
			outsider = append(outsider, mk(out, "OWNER", rules.RuleExternalMember+out))
		case len(stale) < rulesSpec.perKind:
			stale = append(stale, mk(inactive, "MEMBER", rules.RuleInactiveMember+inactive))
		}
	}
	kinds := map[string]int{"sentinelAdded": len(secure), "outsideOwnerAdded": len(outsider), "inactiveUserAdded": len(stale)}
	return append(append(secure, outsider...), stale...), kinds
}

func holds(g workspacesim.TruthGroup, email string) bool {
	for _, m := range g.Members {
		if m.Email == email {
			return true
		}
	}
	return false
}

func ignoreNotFound(err error) error {
	if errors.Is(err, greep.ErrNotFound) {
		return nil
	}
	return err
}
