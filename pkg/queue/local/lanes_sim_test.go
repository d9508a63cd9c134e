package local_test

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/workspacesim"
)

// sweepOnlyYAML gives the sweep a small floor (0.2) of a 600-a-minute window: alone, it
// borrows the other 0.8, which must not take the calls past the simulator's window.
const sweepOnlyYAML = `apis:
  directory:
    shortWindow: {limit: 600, per: 1m}
    perDay: 1000000
    headroom: 0.1
queues:
  directory:
    api: directory
    share: 0.8
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 10
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 5}
  directory-sweep:
    api: directory
    share: 0.2
    service: directory
    pathPrefix: /tasks/directory/
    concurrency: 10
    retry: {minBackoff: 1s, maxBackoff: 1m, maxDoublings: 2, maxAttempts: 5}
    background: true
    dailyBudget: 0.5
`

func TestBorrowingSweepStaysInsideTheShortWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs simulated minutes against the simulator")
	}
	r := newRig(t, sweepOnlyYAML, workspacesim.Config{Users: 30, Groups: 40, Seed: 7, TimeScale: 20, QuotaPerMinute: 600}, 20)
	start := r.sim.Sim.Now()
	// More than 2.5 simulated minutes at the window's 9/s: the sweep stays busy, alone
	// for the first minute, then beside push work at push's whole share.
	r.enqueue(t, "directory-sweep", "/tasks/directory/members", 1500, 0)
	waitUntil(t, "a simulated minute", func() bool { return r.sim.Sim.Now().Sub(start) > time.Minute })
	r.enqueue(t, "directory", "/tasks/directory/group", 500, 10000)
	waitUntil(t, "2.5 simulated minutes", func() bool { return r.sim.Sim.Now().Sub(start) > 150*time.Second })
	st := r.sim.Sim.Stats()
	if st.Rejected.RateLimit != 0 || r.googleErrs["userRateLimitExceeded"] != 0 {
		t.Errorf("%d calls refused with userRateLimitExceeded while the sweep borrowed the window", st.Rejected.RateLimit)
	}
	calls := st.Calls["directory.members.list"] + st.Calls["directory.groups.get"]
	if calls == 0 {
		t.Error("no calls made")
	}
	t.Logf("%d calls in %s simulated (the window's usable rate is 9/s; the sweep's floor 1.8/s)", calls, st.Now.Sub(start).Round(time.Second))
}
