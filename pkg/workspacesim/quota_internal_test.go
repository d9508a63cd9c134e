package workspacesim

import (
	"testing"
	"time"
)

func TestQuotasWindowAndDay(t *testing.T) {
	q := newQuotas(2, map[string]int64{APIReports: 3})
	t0 := time.Date(2026, 7, 1, 6, 59, 0, 0, time.UTC) // 23:59 PDT on 30 June
	for i := range 2 {
		if err := q.check(APIReports, "a", t0); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		q.charge(APIReports, "a", t0)
	}
	if err := q.check(APIReports, "a", t0); err == nil || err.Reason != "userRateLimitExceeded" {
		t.Fatalf("third call in the minute: %v", err)
	}
	if err := q.check(APIReports, "b", t0); err != nil {
		t.Fatalf("another user: %v", err)
	}
	q.charge(APIReports, "b", t0) // third of the day
	if err := q.check(APIReports, "c", t0.Add(30*time.Second)); err == nil || err.Reason != "dailyLimitExceeded" || err.Code != 403 {
		t.Fatalf("fourth of the day: %v", err)
	}
	if err := q.check(APIDirectory, "a", t0); err != nil {
		t.Fatalf("another API: %v", err)
	}
	// Midnight Pacific: a new day and a new minute.
	if err := q.check(APIReports, "a", t0.Add(time.Minute)); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
}

func TestQuotaDayFollowsPacificTime(t *testing.T) {
	for _, c := range []struct {
		at    time.Time
		day   string
		reset time.Time
	}{
		// Summer (PDT, UTC-7) and winter (PST, UTC-8).
		{time.Date(2026, 7, 1, 6, 59, 0, 0, time.UTC), "2026-06-30", time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC)},
		{time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC), "2026-01-15", time.Date(2026, 1, 16, 8, 0, 0, 0, time.UTC)},
		// The day clocks go forward is 23 hours long.
		{time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC), "2026-03-08", time.Date(2026, 3, 9, 7, 0, 0, 0, time.UTC)},
	} {
		if d := quotaDay(c.at); d != c.day {
			t.Errorf("quotaDay(%s) = %s, want %s", c.at, d, c.day)
		}
		if r := nextReset(c.at); !r.Equal(c.reset) {
			t.Errorf("nextReset(%s) = %s, want %s", c.at, r.UTC(), c.reset)
		}
	}
}

func TestClockScalesAndAdvances(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Date(2030, 5, 5, 12, 0, 0, 0, time.UTC)
	c := newClock(start, 60, func() time.Time { return wall })
	if !c.Now().Equal(start) {
		t.Fatalf("now %s, want %s", c.Now(), start)
	}
	wall = wall.Add(time.Second)
	if got := c.Now().Sub(start); got != time.Minute {
		t.Fatalf("one wall second at scale 60 is %v", got)
	}
	c.Advance(time.Hour)
	if got := c.Now().Sub(start); got != time.Hour+time.Minute {
		t.Fatalf("after advancing an hour: %v", got)
	}
	if got := c.WallDuration(time.Minute); got != time.Second {
		t.Fatalf("a simulated minute is %v of wall time", got)
	}
}
