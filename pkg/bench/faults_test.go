package bench

import (
	"errors"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/faults"
)

// The fault scenarios themselves run in pkg/faulttest (at a small size); this checks how
// Faults turns their reports into a Result and an error.
func TestSummarizeFaults(t *testing.T) {
	clean := func(name string) *faults.Report {
		return &faults.Report{Scenario: name, Users: 5, Groups: 10, Members: 30, Calls: map[string]int64{"directory.members.list": 10}, CacheEqualsTruth: true, Problems: []string{}}
	}
	t.Run("all clean, kills skipped", func(t *testing.T) {
		var res Result
		err := summarize(&res, []faultRun{
			{name: "injectedErrors", report: clean("injectedErrors")},
			{name: "droppedPushes", report: clean("droppedPushes")},
			{name: "kills", skipped: "no greep binary"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !res.CacheEqualsTruth || res.Calls["directory.members.list"] != 20 || res.Groups != 10 || res.Members != 30 {
			t.Errorf("result %+v", res)
		}
		if s, _ := res.Figures["kills"].(string); !strings.Contains(s, "skipped") {
			t.Errorf("kills figure %v, want it to say skipped", res.Figures["kills"])
		}
	})
	t.Run("a problem and a run that could not run", func(t *testing.T) {
		bad := clean("kills")
		bad.CacheEqualsTruth, bad.Differences = false, []string{"group a@x is missing from the cache"}
		bad.Problems = []string{"a@x: unsafe, never patched"}
		var res Result
		err := summarize(&res, []faultRun{
			{name: "injectedErrors", report: clean("injectedErrors")},
			{name: "droppedPushes", err: errors.New("the resync: not reached within 1m0s")},
			{name: "kills", report: bad},
		})
		if err == nil {
			t.Fatal("no error for a problem and a failed run")
		}
		for _, want := range []string{"kills: a@x: unsafe, never patched", "droppedPushes: the resync"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		if res.CacheEqualsTruth || len(res.Differences) != 1 {
			t.Errorf("cache equals truth %v, differences %v: want false and the kills' one", res.CacheEqualsTruth, res.Differences)
		}
		if res.Figures["kills"] != bad {
			t.Errorf("kills figure %v, want its report", res.Figures["kills"])
		}
	})
	t.Run("nothing ran", func(t *testing.T) {
		var res Result
		if err := summarize(&res, []faultRun{{name: "kills", skipped: "no binary"}}); err != nil {
			t.Fatal(err)
		}
		if res.CacheEqualsTruth {
			t.Error("cache equals truth with no scenario run")
		}
	})
}
