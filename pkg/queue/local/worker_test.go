package local_test

import (
	"fmt"
	"testing"

	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/local"
)

// workersYAML has a lane of one slot and one of four, both fast enough that every task
// goes without the clock moving.
const workersYAML = `apis:
  directory:
    shortWindow: {limit: 600, per: 1m}
    perDay: 100000
    headroom: 0
queues:
  one:
    ratePerSecond: 500
    service: remediation
    pathPrefix: /tasks/remediation/one/
    concurrency: 1
    retry: {minBackoff: 10s, maxBackoff: 300s, maxDoublings: 3, maxAttempts: 6}
  four:
    ratePerSecond: 500
    service: remediation
    pathPrefix: /tasks/remediation/four/
    concurrency: 4
    retry: {minBackoff: 10s, maxBackoff: 300s, maxDoublings: 3, maxAttempts: 6}
`

// A lane's runs go to the workers it has started, not to a goroutine each: a lane of one
// slot runs ten tasks on one worker, a lane of four on four at most.
func TestLanesReuseTheirWorkers(t *testing.T) {
	clk := local.NewFakeClock(t0)
	rec := &recorder{clock: clk}
	d := openYAML(t, workersYAML, clk, rec)
	for i := range 10 {
		for _, q := range []string{"one", "four"} {
			enqueue(t, d, queue.Task{Queue: q, Path: fmt.Sprintf("/tasks/remediation/%s/%d", q, i)})
		}
	}
	idle(t, d)
	if n := len(rec.snapshot()); n != 20 {
		t.Fatalf("%d runs, want 20", n)
	}
	if n := local.WorkersStarted(d, "one"); n != 1 {
		t.Errorf("the one-slot lane started %d workers for ten tasks, want 1", n)
	}
	if n := local.WorkersStarted(d, "four"); n < 1 || n > 4 {
		t.Errorf("the four-slot lane started %d workers for ten tasks, want 1 to 4", n)
	}
}
