package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/workspacesim"
)

// TestSettingsSweep: the sweep reads every group's settings once, under the daily quota
// (cut to 2,000 here), without a quota error; the naive poller reading them every 10
// minutes crosses it.
func TestSettingsSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs greep local against a simulator")
	}
	saved := dailyQuotas
	defer func() { dailyQuotas = saved }()
	dailyQuotas = map[string]int64{
		workspacesim.APIDirectory: 5_000_000, workspacesim.APIGroupsSettings: 2000, workspacesim.APIReports: 5_000_000,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // seconds when quiet; minutes on a loaded 2-core machine
	defer cancel()
	res, err := SettingsSweep(ctx, tiny())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
	if !res.CacheEqualsTruth || res.QuotaErrors != 0 {
		t.Errorf("cache equals truth %v (%v), quota errors %d", res.CacheEqualsTruth, res.Differences, res.QuotaErrors)
	}
	if got, want := res.Calls["groupssettings.groups.get"], int64(res.Groups); got != want {
		t.Errorf("%d settings reads for %d groups: want one each", got, want)
	}
	if n := res.Naive; n == nil || n.Figures["dailyLimitExceeded"].(int64) == 0 {
		t.Errorf("naive: %+v, want the daily limit crossed", n)
	}
}
