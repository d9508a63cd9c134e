package faults

import (
	"strings"
	"testing"
	"time"
)

// patchReport is the judge of every remediation scenario: what it tolerates and what it
// does not, on writes made up to show each case.
func TestPatchReport(t *testing.T) {
	ok := func(epoch int64, changed bool) Write { return Write{Epoch: epoch, Status: 200, Changed: changed} }
	refused := func(epoch int64) Write { return Write{Epoch: epoch, Status: 503} }
	for _, tc := range []struct {
		name     string
		want     []string
		writes   map[string][]Write
		killed   map[int64]bool
		patched  int
		afterKil int
		resent   int
		problems []string // substrings, one per problem
	}{
		{
			name:    "each unsafe group patched once, a refused attempt retried",
			want:    []string{"a@x", "b@x"},
			writes:  map[string][]Write{"a@x": {ok(0, true)}, "b@x": {refused(0), ok(0, true)}},
			patched: 2,
		},
		{
			name:     "re-sent after a kill changes nothing and is tolerated",
			want:     []string{"a@x"},
			writes:   map[string][]Write{"a@x": {ok(1, true), ok(2, false)}},
			killed:   map[int64]bool{1: true},
			patched:  1,
			afterKil: 1,
		},
		{
			name:     "re-sent within one run is a problem even when it changes nothing",
			want:     []string{"a@x"},
			writes:   map[string][]Write{"a@x": {ok(1, true), ok(1, false)}},
			killed:   map[int64]bool{1: true},
			patched:  1,
			resent:   1,
			problems: []string{"a@x: patched again in run 1"},
		},
		{
			name:     "re-sent in a later run whose predecessor was not killed",
			want:     []string{"a@x"},
			writes:   map[string][]Write{"a@x": {ok(1, true), ok(2, false)}},
			patched:  1,
			resent:   1,
			problems: []string{"patched again in run 2 after a patch answered in run 1"},
		},
		{
			name:     "changed twice",
			want:     []string{"a@x"},
			writes:   map[string][]Write{"a@x": {ok(1, true), ok(2, true)}},
			killed:   map[int64]bool{1: true},
			patched:  1,
			afterKil: 1,
			problems: []string{"a@x: its settings changed 2 times"},
		},
		{
			name:     "a safe group changed, an unsafe one never patched, one patched to no effect",
			want:     []string{"a@x", "c@x"},
			writes:   map[string][]Write{"b@x": {ok(0, true)}, "c@x": {ok(0, false)}},
			patched:  1,
			problems: []string{"b@x: its settings were safe", "c@x: its settings changed 0 times", "a@x: unsafe, never patched"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := map[string]bool{}
			for _, g := range tc.want {
				want[g] = true
			}
			var probs problems
			p := patchReport(want, tc.writes, tc.killed, false, &probs)
			if p.patched != tc.patched || p.resentAfterKill != tc.afterKil || p.resent != tc.resent {
				t.Errorf("patched %d, re-sent after a kill %d, within a run %d; want %d, %d, %d", p.patched, p.resentAfterKill, p.resent, tc.patched, tc.afterKil, tc.resent)
			}
			if len(probs) != len(tc.problems) {
				t.Fatalf("problems %q, want %d: %q", probs, len(tc.problems), tc.problems)
			}
			for i, want := range tc.problems {
				if !strings.Contains(probs[i], want) {
					t.Errorf("problem %d: %q, want it to say %q", i, probs[i], want)
				}
			}
		})
	}
}

// The bound on a wait grows with the tenant and with the paced time of its slowest lane,
// never under the 3 minutes 100 groups get.
func TestWait(t *testing.T) {
	c := Config{Groups: 100, TimeScale: 200}
	if got := c.wait(0); got != 3*time.Minute {
		t.Errorf("100 groups: %v, want 3m", got)
	}
	c.Groups = 1000
	if got := c.wait(time.Hour); got != 30*time.Minute {
		t.Errorf("1000 groups, an hour paced at 200x: %v, want 30m", got)
	}
	if got := c.wait(2000 * time.Hour); got != 30*time.Hour {
		t.Errorf("2,000 paced hours at 200x: %v, want three times the 10 hours they take", got)
	}
	c.Wait = time.Second
	if got := c.wait(time.Hour); got != time.Second {
		t.Errorf("Config.Wait: %v, want 1s", got)
	}
}

// With every task delivered twice, a patch re-sent within a run that changed nothing is
// counted, not a problem; a second change still is.
func TestPatchReportToleratesDuplicateDelivery(t *testing.T) {
	want := map[string]bool{"a@x": true, "b@x": true}
	writes := map[string][]Write{
		"a@x": {{Epoch: 0, Status: 200, Changed: true}, {Epoch: 0, Status: 200}},
		"b@x": {{Epoch: 0, Status: 200, Changed: true}, {Epoch: 0, Status: 200, Changed: true}},
	}
	var probs problems
	p := patchReport(want, writes, nil, true, &probs)
	if p.patched != 2 || p.resent != 2 {
		t.Errorf("patched %d, re-sent %d; want 2 and 2", p.patched, p.resent)
	}
	if len(probs) != 1 || !strings.Contains(probs[0], "b@x: its settings changed 2 times") {
		t.Errorf("problems %q, want only b@x's second change", probs)
	}
}
