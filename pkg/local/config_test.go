package local

import (
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/syncplan"
)

func TestValidate(t *testing.T) {
	ok := Defaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Store = "mongo" }, "--store"},
		{func(c *Config) { c.Store = "datastore" }, "DATASTORE_PROJECT_ID"},
		{func(c *Config) { c.Workspace = "google" }, "--admin-subject"},
		{func(c *Config) { c.Workspace = "google"; c.AdminSubject = "a@b.c"; c.TimeScale = 10 }, "--time-scale"},
		{func(c *Config) { c.Workspace = "ftp://x" }, "--workspace"},
		{func(c *Config) { c.TimeScale = 0 }, "--time-scale"},
		{func(c *Config) { c.MaxAge = time.Minute }, "maximum age"},
		{func(c *Config) { c.Remediation = "fix" }, "--remediation"},
		{func(c *Config) { c.SimUsers = 0 }, "--sim-users"},
		{func(c *Config) { c.HistoryRetention = -time.Hour }, "--history-retention"},
	} {
		cfg := Defaults()
		c.change(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one naming %s", err, c.want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := syncplan.Progress{Done: 50, Total: 200, Calls: 60, ListingDone: true, Started: t0, Now: t0.Add(10 * time.Second)}
	got := ProgressLine(p, "full-sync", true, true)
	want := "[#######.......................] full-sync: 50/200 groups, 60 calls (6.0/s), about 30s left"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	p.ListingDone = false
	if got := ProgressLine(p, "full-sync", true, false); got != "full-sync: 50/200+ groups, 60 calls (6.0/s)" {
		t.Errorf("plain line while listing: %q", got)
	}
	p.Done, p.ListingDone = 200, true
	if got := ProgressLine(p, "resync", false, false); got != "resync done: 200/200 groups, 60 calls (6.0/s) in 10s" {
		t.Errorf("finished: %q", got)
	}
}

// TestWallProgressLine: at --time-scale 60 the rates and durations are wall-clock ones and
// the simulated clock is named; at 1 they are wall-clock ones with nothing to name.
func TestWallProgressLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 10 simulated minutes at ×60: 10 wall seconds.
	p := syncplan.Progress{Done: 50, Total: 200, Calls: 600, ListingDone: true, Started: t0, Now: t0.Add(10 * time.Minute)}
	want := "full-sync: 50/200 groups, 600 calls (60.0 calls/s wall), about 30s left; simulated clock ×60"
	if got := WallProgressLine(p, "full-sync", true, false, 60); got != want {
		t.Errorf("at ×60:\ngot  %q\nwant %q", got, want)
	}
	p.Done = 200
	want = "full-sync done: 200/200 groups, 600 calls (60.0 calls/s wall) in 10s; simulated clock ×60"
	if got := WallProgressLine(p, "full-sync", false, false, 60); got != want {
		t.Errorf("finished at ×60:\ngot  %q\nwant %q", got, want)
	}
	p.Now = t0.Add(10 * time.Second)
	want = "full-sync done: 200/200 groups, 600 calls (60.0 calls/s wall) in 10s"
	if got := WallProgressLine(p, "full-sync", false, false, 1); got != want {
		t.Errorf("at ×1:\ngot  %q\nwant %q", got, want)
	}
}
