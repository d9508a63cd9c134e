package queueconfig_test

import (
	"math"
	"os"
	"regexp"
	"testing"

	"github.com/greephq/greep/pkg/queueconfig"
)

// FuzzParse feeds Parse arbitrary queues.yaml files: it must answer a config or an error
// in the "file:line: message" form (or "file: empty file"), never panic, and every lane of
// a config it accepts must have a usable rate, cap and backoff.
func FuzzParse(f *testing.F) {
	shipped, err := os.ReadFile("../../queues.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(shipped), valid, sharedYAML, "",
		"apis: {}\nqueues: {}\n",
		"timeZone: Mars/Olympus\napis:\n  a: {shortWindow: {limit: 1, per: 1s}, perDay: 1}\nqueues: {}\n",
		"queues:\n  q:\n    retry: {minBackoff: -1s}\n",
		"apis:\n  a: &x {shortWindow: {limit: 1, per: 0s}, perDay: 1}\n  b: *x\n",
		"[1, 2]\n",
		"apis:\n  a: {sharesWindowWith: b, perDay: 1}\n  b: {sharesWindowWith: a, perDay: 1}\nqueues: {}\n",
	} {
		f.Add([]byte(seed))
	}
	errForm := regexp.MustCompile(`^queues\.yaml(:\d+)?: `)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := queueconfig.Parse("queues.yaml", b)
		if err != nil {
			if !errForm.MatchString(err.Error()) {
				t.Fatalf("error not in the file:line form: %v", err)
			}
			return
		}
		for _, name := range c.LaneNames() {
			l, _ := c.Lane(name)
			r := l.RatePerSecond()
			if math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
				t.Fatalf("lane %s: rate %v", name, r)
			}
			if l.Concurrency <= 0 {
				t.Fatalf("lane %s: concurrency %d", name, l.Concurrency)
			}
			if d := l.RetryPolicy().Backoff(1000); d < 0 {
				t.Fatalf("lane %s: backoff %v", name, d)
			}
			if c := l.CeilingPerSecond(); math.IsNaN(c) || c < r {
				t.Fatalf("lane %s: ceiling %v below its rate %v", name, c, r)
			}
			_ = l.DailyCap()
		}
		c.Plan(queueconfig.DefaultGroups)
		if _, err := c.WithScale(60); err != nil {
			t.Fatalf("WithScale(60) of an accepted config: %v", err)
		}
	})
}
