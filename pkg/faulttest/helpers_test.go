package faulttest

import (
	"encoding/json"
	"testing"

	"github.com/greephq/greep/pkg/faults"
)

// config is a scenario of pkg/faults at a test's size: the repository's queues.yaml and
// shipped rules, truthdiff.Diff comparing the cache with the truth, progress in the test's
// log. Its waits are the library's: generous, since two busy cores and the race detector
// slow everything, and a scenario that converges returns as soon as it does.
func config(t *testing.T, groups int, seed int64) faults.Config {
	return faults.Config{
		Users: groups / 2, Groups: groups, Seed: seed,
		QueuesFile: "../../queues.yaml", RulesFile: "../../deploy/remediation.yaml",
		Logf: t.Logf,
	}
}

// check fails the test on each of the report's problems but those in skip (reported
// elsewhere), and logs its figures.
func check(t *testing.T, r *faults.Report, skip map[string]bool) {
	t.Helper()
	for _, p := range r.Problems {
		if !skip[p] {
			t.Error(p)
		}
	}
	if r.KeptIn != "" {
		t.Logf("kept for inspection: %s; the end of greep local's log:\n%s", r.KeptIn, r.Log)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %s", b)
}
