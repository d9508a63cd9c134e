package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// DefaultRestWindow is how long the rest scenario measures an idle greep local.
const DefaultRestWindow = 5 * time.Minute

// Rest measures greep local at rest: after the initial sync, the settings sweep and the
// remediation it leads to have finished and every queue is idle, the process's CPU time
// (utime+stime from /proc/self/stat, not wall time) over o.RestWindow of wall time, as a
// share of one core, and its resident memory at the end. The simulator runs in the same
// process, idle, so the share is an upper bound on Greep's.
func Rest(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 10
	}
	window := o.RestWindow
	if window <= 0 {
		window = DefaultRestWindow
	}
	sc := workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale,
		Start: dayStart(), QuotaPerDay: dailyQuotas}
	e, err := startEnv(ctx, o, sc, nil)
	if err != nil {
		return nil, err
	}
	defer e.close()
	before := e.sim.Stats()
	if err := waitFinished(ctx, e.app); err != nil {
		return nil, err
	}
	truth, err := e.sim.Truth("")
	if err != nil {
		return nil, err
	}
	groups := int64(len(truth.Groups))
	lane, _ := e.app.Queues.Lane(tasks.QueueSettingsSweep)
	limit := time.Duration(float64(groups)/lane.RatePerSecond()/o.TimeScale*float64(time.Second)) + 10*time.Minute
	if err := waitUntil(ctx, limit, "every group's settings read", func() (bool, error) {
		return e.sim.Stats().Calls["groupssettings.groups.get"] >= groups, nil
	}); err != nil {
		return nil, err
	}
	idleCtx, cancel := context.WithTimeout(ctx, limit)
	_, err = e.app.Dispatcher.WaitIdle(idleCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("waiting for the queues to empty after the settings sweep: %w", err)
	}
	busy := e.sim.Stats()

	stopProfile, err := startProfile(o.Profile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	cpu0, err := processCPU()
	if err != nil {
		return nil, err
	}
	wall0 := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(window):
	}
	cpu1, err := processCPU()
	stopProfile()
	if err != nil {
		return nil, err
	}
	wall := time.Since(wall0)
	rs, err := processRSS()
	if err != nil {
		return nil, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	after := e.sim.Stats()

	res := &Result{Scenario: "rest", TimeScale: o.TimeScale}
	e.fillCalls(res, delta(before, busy))
	if err := e.tenantFigures(ctx, res); err != nil {
		return nil, err
	}
	atRest := delta(busy, after)
	var restCalls int64
	for _, n := range atRest.calls {
		restCalls += n
	}
	res.Figures = map[string]any{
		"restWallSeconds":    round(wall.Seconds()),
		"restCPUSeconds":     round4((cpu1 - cpu0).Seconds()),
		"cpuAtRestShare":     round4((cpu1 - cpu0).Seconds() / wall.Seconds()),
		"restAPICalls":       restCalls,
		"restCallsByMethod":  atRest.calls,
		"rssBytes":           rs.RSS,
		"rssPeakBytes":       rs.Peak,
		"rssAnonBytes":       rs.Anon,
		"rssFileBytes":       rs.File,
		"rssShmemBytes":      rs.Shmem,
		"heapInuseBytes":     ms.HeapInuse,
		"goSysBytes":         ms.Sys,
		"goroutines":         runtime.NumGoroutine(),
		"machineLoadAverage": loadAverage(),
	}
	return res, nil
}

// userHZ is the unit of /proc's CPU times: fixed at 100 on Linux whatever the kernel's HZ.
const userHZ = 100

// processCPU is the process's user and system CPU time so far.
func processCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the process's CPU time (Linux only): %w", err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime+stime out of a /proc/PID/stat line.
func parseStatCPU(s string) (time.Duration, error) {
	// The command name, in parentheses, may hold spaces: count fields after its end.
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/self/stat: no command name in %.40q", s)
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/self/stat: %d fields", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15 of stat(5)
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64/int64(time.Second)/2 {
			return 0, fmt.Errorf("/proc/self/stat: CPU time %q", f)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// residentSet is the process's memory as /proc/PID/status reports it, in bytes: the
// resident set now and at its peak, and its parts: anonymous (the Go heap, stacks),
// file-backed and shared memory (bbolt's memory-mapped file, counted as shared memory
// when the store is on tmpfs as the benches put it: the file's pages, not the process's
// own). Anon, File and Shmem are zero on kernels older than 4.5, which lack them.
type residentSet struct {
	RSS, Peak, Anon, File, Shmem int64
}

// processRSS is this process's residentSet, from /proc/self/status.
func processRSS() (residentSet, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return residentSet{}, fmt.Errorf("reading the process's memory (Linux only): %w", err)
	}
	return parseStatusRSS(string(b))
}

// parseStatusRSS reads VmRSS, VmHWM, RssAnon, RssFile and RssShmem out of a
// /proc/PID/status file.
func parseStatusRSS(s string) (residentSet, error) {
	var rs residentSet
	fields := map[string]*int64{"VmRSS": &rs.RSS, "VmHWM": &rs.Peak, "RssAnon": &rs.Anon, "RssFile": &rs.File, "RssShmem": &rs.Shmem}
	for _, line := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		field := fields[name]
		if !ok || field == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return residentSet{}, fmt.Errorf("/proc/self/status %s: %q", name, value)
		}
		*field = kb * 1024
	}
	if rs.RSS == 0 {
		return residentSet{}, fmt.Errorf("/proc/self/status: no VmRSS")
	}
	return rs, nil
}
