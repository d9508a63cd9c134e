package local_test

import (
	"context"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
)

// A full sync through greep local's wiring commits about one store write transaction per
// Directory call: each members task's unit of work, with the quota reservations taken in
// blocks (it was two a call with a reservation written per call), plus the sweep's fixed
// costs (about 70 at this size: listings, state documents, start and finish). Issue 19
// asks for at most two.
func TestFullSyncCommitsAboutOneTransactionPerCall(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t, 400)
	app, err := local.Start(ctx, config(sim, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	waitSynced(t, app)
	counted, ok := app.Store.(interface{ WriteStats() greep.WriteStats })
	if !ok {
		t.Fatal("greep local's store does not count its writes")
	}
	tx := counted.WriteStats().Transactions // since the store was opened
	var calls int64
	for method, n := range sim.Sim.Stats().Calls {
		if strings.HasPrefix(method, "directory.") {
			calls += n
		}
	}
	if calls < 300 {
		t.Fatalf("%d Directory calls for 400 groups: too few to judge", calls)
	}
	per := float64(tx) / float64(calls)
	t.Logf("%d store write transactions for %d Directory calls: %.2f a call", tx, calls, per)
	if per > 1.5 {
		t.Errorf("%d store write transactions for %d Directory calls (%.2f a call), want about one", tx, calls, per)
	}
}
