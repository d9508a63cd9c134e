package bench

import (
	"context"
	"testing"
)

// The backfill scenario at a small size: the one-day outage lists and records every
// change of the day (a settings change may be several events), in pages of 1,000 plus
// the groups application's one empty page; the one-hour outage a part of them.
func TestBackfillScenario(t *testing.T) {
	res, err := Backfill(context.Background(), Options{Users: 60, Groups: 40, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	applied := res.Figures["changesApplied"].(int)
	day, hour := res.Figures["oneDay"].(map[string]any), res.Figures["oneHour"].(map[string]any)
	if applied < 1000 {
		t.Fatalf("%d changes applied, want most of the day's 2,050", applied)
	}
	if got := day["eventsRecorded"].(int); got < applied {
		t.Errorf("the one-day backfill recorded %d events, want at least the %d changes", got, applied)
	}
	if got, want := day["calls"].(int64), int64((applied+999)/1000+1); got < want || got > want+2 {
		t.Errorf("the one-day backfill made %d activities.list calls, want about %d (a page of 1,000 each, one empty groups page)", got, want)
	}
	if h, d := hour["eventsRecorded"].(int), day["eventsRecorded"].(int); h == 0 || h >= d {
		t.Errorf("the one-hour backfill recorded %d events of the day's %d", h, d)
	}
	if hour["calls"].(int64) != 2 {
		t.Errorf("the one-hour backfill made %v calls, want 2 (one page per application)", hour["calls"])
	}
}
