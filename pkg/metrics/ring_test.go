package metrics

import (
	"testing"
	"time"
)

func TestRingKeepsOneDayAMinuteAPoint(t *testing.T) {
	r := NewRing()
	t0 := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	// Two days of calls, three a minute: only the last 1,440 minutes remain, each with 3.
	for m := range 2 * RingMinutes {
		at := t0.Add(time.Duration(m) * time.Minute)
		for range 3 {
			r.Feed(Event{Kind: "call", API: "directory", At: at})
		}
	}
	now := t0.Add(time.Duration(2*RingMinutes-1) * time.Minute)
	pts := r.Points(SeriesCalls+"directory", now)
	if len(pts) != RingMinutes {
		t.Fatalf("%d points, want %d", len(pts), RingMinutes)
	}
	for _, p := range pts {
		if p.Value != 3 {
			t.Fatalf("minute %v: %v calls, want 3 (a slot from a day ago was not cleared)", p.At, p.Value)
		}
	}
	if first := pts[0].At; !first.Equal(now.Truncate(time.Minute).Add(-(RingMinutes - 1) * time.Minute)) {
		t.Errorf("oldest point %v", first)
	}
	// An hour later, the hour without calls has aged the oldest hour out.
	if n := len(r.Points(SeriesCalls+"directory", now.Add(time.Hour))); n != RingMinutes-60 {
		t.Errorf("an hour later: %d points, want %d", n, RingMinutes-60)
	}
}

func TestRingGaugeAndMean(t *testing.T) {
	r := NewRing()
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r.Set(SeriesBacklog+"directory", at, 10)
	r.Set(SeriesBacklog+"directory", at.Add(20*time.Second), 4)
	r.Feed(Event{Kind: "freshness", Reason: "notification", At: at, Seconds: 10})
	r.Feed(Event{Kind: "freshness", Reason: "notification", At: at.Add(time.Second), Seconds: 30})
	if p := r.Points(SeriesBacklog+"directory", at); len(p) != 1 || p[0].Value != 4 {
		t.Errorf("backlog %+v, want the minute's last sample 4", p)
	}
	if p := r.Points(SeriesFreshness+"notification", at); len(p) != 1 || p[0].Value != 20 {
		t.Errorf("freshness %+v, want the mean 20", p)
	}
	if n := r.Names("backlog "); len(n) != 1 || n[0] != SeriesBacklog+"directory" {
		t.Errorf("names %v", n)
	}
}
