package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/workspacesim"
)

// RulesFile writes the shipped rules (shipped: deploy/remediation.yaml) into dir with a
// run cap above any tenant's size (the shipped cap of 25 would rightly leave the rest
// open) and returns the file and the rules.
func RulesFile(shipped, dir string) (string, *rules.Config, error) {
	raw, err := os.ReadFile(shipped)
	if err != nil {
		return "", nil, err
	}
	yml := strings.Replace(string(raw), "\nrunCap: 25\n", "\nrunCap: 100000\n", 1)
	if yml == string(raw) {
		return "", nil, fmt.Errorf("%s no longer says runCap: 25; update pkg/faults", shipped)
	}
	path := filepath.Join(dir, "remediation.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		return "", nil, err
	}
	rc, err := rules.LoadFile(path)
	if err != nil {
		return "", nil, err
	}
	return path, rc, nil
}

// unsafeGroups is the oracle: the groups whose true settings the rules would patch, read
// straight off the simulator's truth.
func unsafeGroups(rc *rules.Config, truth workspacesim.Truth, now time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	// Greep binds an exemption's email to the group that has it when first evaluated;
	// the truth's groups keep their addresses during a scenario, so bind to those.
	ids := map[string]string{}
	for _, g := range truth.Groups {
		ids[strings.ToLower(g.Email)] = g.ID
	}
	for _, g := range truth.Groups {
		in := rules.Input{Group: g.Email, GroupID: g.ID, ExemptionIDs: ids, Settings: g.Settings}
		for _, m := range g.Members {
			in.Members = append(in.Members, greep.Member{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status})
		}
		res, err := rc.Evaluate(in, now)
		if err != nil {
			return nil, fmt.Errorf("evaluating the truth of %s: %w", g.Email, err)
		}
		if res.Patch != nil {
			out[strings.ToLower(g.Email)] = true
		}
	}
	return out, nil
}

// unsafeNow is unsafeGroups on the simulator's truth now.
func unsafeNow(sim *workspacesim.Sim, rc *rules.Config) (map[string]bool, error) {
	truth, err := sim.Truth("")
	if err != nil {
		return nil, err
	}
	return unsafeGroups(rc, truth, sim.Now())
}

// minUnsafe is the fewest unsafe groups a remediation scenario accepts: with fewer, a
// clean outcome would prove little.
const minUnsafe = 5

// remediationSetup writes the rules a remediation scenario runs (the shipped ones, with a
// cap above the tenant's size) into dir and reads the groups they must patch off the
// truth before Greep starts: at least minUnsafe of them.
func remediationSetup(sim *workspacesim.Sim, shipped, dir string) (rulesPath string, rc *rules.Config, want map[string]bool, err error) {
	if rulesPath, rc, err = RulesFile(shipped, dir); err != nil {
		return "", nil, nil, err
	}
	if want, err = unsafeNow(sim, rc); err != nil {
		return "", nil, nil, err
	}
	if len(want) < minUnsafe {
		return "", nil, nil, fmt.Errorf("the tenant has only %d unsafe groups; pick another seed", len(want))
	}
	return rulesPath, rc, want, nil
}

// patches sums up the settings writes of a run against the groups that needed a patch.
type patches struct {
	// patched counts the groups whose settings a write changed.
	patched int
	// resentAfterKill counts patches answered 2xx again after the earlier answer went to
	// a process that was then killed: the task could not record its success, so it ran
	// again and re-sent the same values, which changed nothing (at-least-once delivery).
	resentAfterKill int
	// resent counts the other patches answered 2xx again for a group within one run of
	// Greep: they changed nothing either, but nothing excuses them.
	resent int
}

// patchReport checks the settings writes against the groups that needed a patch: every
// one of them changed exactly once, no other group changed, and no patch was answered
// 2xx twice within one run. It adds a problem for each of those; what it tolerates (a
// patch re-sent after a kill; with twice, one re-sent within a run, which every task
// delivered twice makes), it counts.
func patchReport(want map[string]bool, writes map[string][]Write, killed map[int64]bool, twice bool, probs *problems) patches {
	var p patches
	groups := make([]string, 0, len(writes))
	for g := range writes {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		var changes, ok int
		var last int64 = -1
		for _, w := range writes[g] {
			if w.Changed {
				changes++
			}
			if w.Status/100 != 2 {
				continue
			}
			ok++
			switch {
			case ok == 1:
			case killed[last] && last < w.Epoch:
				p.resentAfterKill++
			default:
				// A patch sent twice within one run is no kill's doing: it was once a
				// settings read answered before a patch and stored after it
				// (docs/faults.md, "Found").
				p.resent++
				if twice {
					break
				}
				probs.add("%s: patched again in run %d after a patch answered in run %d (%+v)", g, w.Epoch, last, writes[g])
			}
			last = w.Epoch
		}
		switch {
		case !want[g] && changes > 0:
			probs.add("%s: its settings were safe, yet %d writes changed them", g, changes)
		case want[g] && changes != 1:
			probs.add("%s: its settings changed %d times, want once: %+v", g, changes, writes[g])
		}
		if changes > 0 {
			p.patched++
		}
	}
	unpatched := make([]string, 0)
	for g := range want {
		if len(writes[g]) == 0 {
			unpatched = append(unpatched, g)
		}
	}
	sort.Strings(unpatched)
	for _, g := range unpatched {
		probs.add("%s: unsafe, never patched", g)
	}
	return p
}

// changedGroups counts the groups whose settings a write has changed.
func changedGroups(writes map[string][]Write) int {
	n := 0
	for _, ws := range writes {
		for _, w := range ws {
			if w.Changed {
				n++
				break
			}
		}
	}
	return n
}

// checkFixed adds a problem for each patched group without a fixed settings finding and
// returns how many groups have one.
func checkFixed(ctx context.Context, store greep.FindingStore, want map[string]bool, probs *problems) (int, error) {
	fixed, err := findingsFixed(ctx, store)
	if err != nil {
		return 0, err
	}
	groups := make([]string, 0, len(want))
	for g := range want {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		if fixed[g] == 0 {
			probs.add("%s: patched, but no finding of it says fixed", g)
		}
	}
	return len(fixed), nil
}

// findingsFixed counts the settings findings (not membership hygiene) in state fixed, per
// group.
func findingsFixed(ctx context.Context, store greep.FindingStore) (map[string]int, error) {
	out := map[string]int{}
	q := greep.FindingQuery{State: greep.FindingFixed}
	for {
		fs, next, err := store.Findings(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("listing fixed findings: %w", err)
		}
		for _, f := range fs {
			if f.Field != rules.FieldMember {
				out[strings.ToLower(f.Group)]++
			}
		}
		if next == "" {
			return out, nil
		}
		q.Token = next
	}
}

var emailRE = regexp.MustCompile(`[^\s:()]+@[^\s:()]+`)

// groupsIn returns the groups truthdiff.Diff's differences name (a group may have several).
func groupsIn(diffs []string) map[string]bool {
	out := map[string]bool{}
	for _, d := range diffs {
		out[strings.ToLower(emailRE.FindString(d))] = true
	}
	return out
}

// tenant fills the report's tenant size from the truth.
func (r *Report) tenant(truth workspacesim.Truth) {
	r.Users, r.Groups, r.Members = len(truth.Users), len(truth.Groups), 0
	for _, g := range truth.Groups {
		r.Members += len(g.Members)
	}
}

// calls fills the report's call counts from the simulator.
func (r *Report) calls(st workspacesim.Stats) {
	r.Calls, r.TotalCalls, r.InjectedFaults = st.Calls, sum(st.Calls), st.Rejected.Injected
	r.QuotaErrors = st.Rejected.RateLimit + st.Rejected.DailyLimit
}
