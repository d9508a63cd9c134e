package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The end of a sweep drops the pages its runs staged and never swapped in (a run lost to
// a killed process leaves them), and leaves a refresh's, which may still be running.
func TestSweepEndDropsItsLostRunsStagedPages(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, workspacesim.Config{Users: 30, Groups: 20, Seed: 5}, syncplan.Resync{Every: time.Hour})
	gen, err := e.worker.StartFullSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const kind = "directory-stage" // the worker's staging records
	lost := syncplan.SweepRun(gen, "lost-group") + "/000000"
	refresh := "r0123456789abcdef/000000"
	for _, id := range []string{lost, refresh} {
		if err := e.store.PutRecord(ctx, kind, id, []byte("[]")); err != nil {
			t.Fatal(err)
		}
	}
	e.q.run()
	if _, s, err := e.worker.Progress(ctx); err != nil || s.FinishedAt.IsZero() {
		t.Fatalf("the sweep did not finish: %+v %v", s, err)
	}
	stored := map[string]bool{}
	if err := e.store.Records(ctx, kind, func(id string, _ []byte) error { stored[id] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if stored[lost] || !stored[refresh] {
		t.Errorf("staged pages after the sweep: %v; want the refresh's %s and not the lost run's %s", stored, refresh, lost)
	}
}
