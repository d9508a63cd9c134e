package bench

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"
)

const (
	statLine   = "4242 (greep local) S 1 4242 4242 0 -1 4194560 9123 0 12 0 1234 567 0 0 20 0 14 0 88 1500000000 30000 18446744073709551615\n"
	statusFile = "Name:\tgreep\nVmPeak:\t 2000000 kB\nVmHWM:\t  512000 kB\nVmRSS:\t  256000 kB\nRssAnon:\t  200000 kB\nRssFile:\t   50000 kB\nRssShmem:\t    6000 kB\nThreads:\t14\n"
)

func TestParseProcFigures(t *testing.T) {
	cpu, err := parseStatCPU(statLine)
	if err != nil || cpu != 18010*time.Millisecond {
		t.Errorf("CPU %v, %v; want 18.01s (1234+567 ticks)", cpu, err)
	}
	rs, err := parseStatusRSS(statusFile)
	if want := (residentSet{RSS: 256000 * 1024, Peak: 512000 * 1024, Anon: 200000 * 1024, File: 50000 * 1024, Shmem: 6000 * 1024}); err != nil || rs != want {
		t.Errorf("resident set %+v, %v; want %+v", rs, err, want)
	}
	for _, bad := range []string{"", "1 (x) S 1", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -1 12", "1 (a) b) S 1 2 3 4 5 6 7 8 9 10 x 12"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("stat %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "VmRSS:\tmany kB\n", "VmHWM:\t 1 kB\n", "VmRSS:\t1 kB\nRssFile:\t-3 kB\n"} {
		if _, err := parseStatusRSS(bad); err == nil {
			t.Errorf("status %q accepted", bad)
		}
	}
	// This process's own figures read, where /proc exists.
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		if _, err := processCPU(); err != nil {
			t.Error(err)
		}
		if rs, err := processRSS(); err != nil || rs.RSS <= 0 || rs.Anon <= 0 {
			t.Errorf("own resident set %+v, %v", rs, err)
		}
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add(statLine)
	f.Add("1 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12")
	f.Add("1 (x) S 1 2 3 4 5 6 7 8 9 10 9223372036854775807 1")
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseStatCPU(s); err == nil && d < 0 {
			t.Errorf("negative CPU time %v from %q", d, s)
		}
	})
}

func FuzzParseStatusRSS(f *testing.F) {
	f.Add(statusFile)
	f.Add("VmRSS:\t-1 kB\n")
	f.Add("VmRSS:\t9223372036854775807 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		if rs, err := parseStatusRSS(s); err == nil && (rs.RSS <= 0 || rs.Peak < 0 || rs.Anon < 0 || rs.File < 0 || rs.Shmem < 0) {
			t.Errorf("resident set %+v from %q", rs, s)
		}
	})
}

// TestRest: after the sync and the settings sweep, the idle process is measured and
// makes no API call; its figures are all there.
func TestRest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs greep local against a simulator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := tiny()
	o.RestWindow = 2 * time.Second
	res, err := Rest(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
	if !res.CacheEqualsTruth || res.QuotaErrors != 0 {
		t.Errorf("cache equals truth %v (%v), quota errors %d", res.CacheEqualsTruth, res.Differences, res.QuotaErrors)
	}
	if got, want := res.Calls["groupssettings.groups.get"], int64(res.Groups); got < want {
		t.Errorf("measured after %d settings reads of %d groups", got, want)
	}
	f := res.Figures
	if f["restAPICalls"].(int64) != 0 {
		t.Errorf("%d API calls at rest", f["restAPICalls"])
	}
	if f["rssBytes"].(int64) <= 0 || f["rssAnonBytes"].(int64) <= 0 || f["restWallSeconds"].(float64) < 2 {
		t.Errorf("figures %v", f)
	}
	if s := f["cpuAtRestShare"].(float64); s < 0 || s > 1 {
		t.Errorf("CPU share %v", s)
	}
}
