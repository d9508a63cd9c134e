package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/workspacesim"
)

// TestDay: six simulated hours at a tiny size, with the Groups Settings daily quota cut
// to 1,000 so the naive poller (40 groups' settings every 10 minutes) crosses it after
// 25 crawls: Greep meets no quota error, sees every change and ends equal to the truth;
// the poller is refused with dailyLimitExceeded and stays blocked. Greep's freshness is
// not bounded here: at this clock a stalled test machine stretches it (the bench reports
// it), while the poller's, on its own event-driven clock, is exact.
func TestDay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs greep local against a simulator for a simulated day")
	}
	savedSpec, savedQuota := daySpec, dailyQuotas
	defer func() { daySpec, dailyQuotas = savedSpec, savedQuota }()
	daySpec.memberChanges, daySpec.settingsChanges, daySpec.warmup, daySpec.length = 60, 5, time.Hour, 6*time.Hour
	dailyQuotas = map[string]int64{
		workspacesim.APIDirectory: 5_000_000, workspacesim.APIGroupsSettings: 1000, workspacesim.APIReports: 5_000_000,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := tiny()
	o.TimeScale = 1440
	res, err := Day(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
	if !res.CacheEqualsTruth || res.QuotaErrors != 0 {
		t.Errorf("cache equals truth %v (%v), quota errors %d", res.CacheEqualsTruth, res.Differences, res.QuotaErrors)
	}
	// At 1440x a stalled wall second is 24 simulated minutes: when the machine could not
	// keep the warm-up's pace (the bench reports warmupOverran), changes made in the day's
	// last minutes may end it unseen by the freshness tracker; the cache equal to the
	// truth above still shows none was lost.
	// A change overtaken by a later one to the same member before it was seen (its
	// removal, 1.25 s of wall time later) is counted apart: it can no longer show.
	overtaken := res.Figures["changesOvertaken"].(int)
	if f := res.Freshness; f.Changes+overtaken != 60 || (f.Unseen != 0 && res.Figures["warmupOverran"] != true) {
		t.Errorf("freshness %+v, %d overtaken: want all 60 membership changes seen", f, overtaken)
	} else if f.Unseen != 0 {
		t.Logf("%d changes unseen at the day's end on a machine that fell behind the clock", f.Unseen)
	}
	// Accepted to visible in wall time is the simulated figure over the time scale; the
	// settings changes report theirs beside the members'.
	if a, wall := res.AcceptedToVisible, res.AcceptedToVisibleWall; a == nil || wall == nil || wall.Changes != a.Changes || wall.Max > a.Max {
		t.Errorf("accepted to visible %+v, in wall time %+v: want the same changes, the wall figure no longer", a, wall)
	}
	for _, k := range []string{"changeToVisibleWall", "settingsAcceptedToVisible", "settingsAcceptedToVisibleWall", "settingsChangeToVisibleWall"} {
		if _, ok := res.Figures[k].(*Freshness); !ok {
			t.Errorf("figure %s missing: %v", k, res.Figures[k])
		}
	}
	n := res.Naive
	if n == nil {
		t.Fatal("no naive figures")
	}
	blocked := n.Figures["blockedSeconds"].(map[string]float64)[workspacesim.APIGroupsSettings]
	if n.Figures["dailyLimitExceeded"].(int64) == 0 || blocked <= 0 {
		t.Errorf("naive: %v dailyLimitExceeded, blocked %vs: want the daily limit crossed", n.Figures["dailyLimitExceeded"], blocked)
	}
	// A change waits for the next crawl: up to the 10-minute period, counted from the change.
	if f := n.Freshness; f == nil || f.P95 < (5*time.Minute).Seconds() || f.Max > daySpec.naivePeriod.Seconds()+60 {
		t.Errorf("naive freshness %+v: want a p95 of minutes, within the poll period", f)
	}
	if g := res.Calls["groupssettings.groups.get"]; g >= 1000 {
		t.Errorf("Greep read settings %d times: want them under the 1,000 quota", g)
	}
}

// TestPollerOverrunsItsPeriod: a crawl longer than the poll period (40 groups take about
// 1.1 s at 40 calls a second; the period is 1 s) is followed by the next at once, the day
// ends the poll on time, mid-crawl, and the settings reads take no time of the members
// crawl (each API has its own quota).
func TestPollerOverrunsItsPeriod(t *testing.T) {
	o := tiny()
	length, period := time.Minute, time.Second
	n, err := naiveDay(context.Background(), o, dayStart(), length, period, true, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n.SimulatedSeconds != length.Seconds() {
		t.Errorf("the poll lasted %v simulated s, want the day's %v", n.SimulatedSeconds, length.Seconds())
	}
	crawls, done, wanted := n.Figures["crawls"].(int), n.Figures["completeCrawls"].(int), n.Figures["crawlsWanted"].(int)
	if wanted != 60 || crawls >= wanted || done == 0 || done >= crawls {
		t.Errorf("crawls %d (%d complete) of %d wanted: want fewer than wanted, the last one cut by the end", crawls, done, wanted)
	}
	members := n.Calls["directory.members.list"] + n.Calls["directory.groups.list"]
	// 40 calls a simulated second on the Directory stream alone, whatever the settings
	// reads beside it.
	if max := int64(length.Seconds() * 40); members > max || members < max-2 {
		t.Errorf("%d Directory calls in %v: want the 40 a second the pace allows", members, length)
	}
	if s := n.Calls["groupssettings.groups.get"]; s == 0 {
		t.Error("no settings read")
	}
}
