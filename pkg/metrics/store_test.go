package metrics_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

// instrumented opens an embedded store and returns it with its metrics and the store
// they instrument.
func instrumented(t *testing.T) (*bolt.Store, *metrics.Metrics, greep.Store) {
	t.Helper()
	raw, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	m := metrics.New(time.Now)
	return raw, m, m.InstrumentStore(raw)
}

func TestStoreErrorsCountFailuresOnly(t *testing.T) {
	ctx := context.Background()
	raw, m, s := instrumented(t)
	errors_ := func() float64 { return sum(t, m, "greep_store_errors_total") }

	// Contract answers and the caller's own errors are not store failures.
	if err := s.CreateRecord(ctx, "k", "1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRecord(ctx, "k", "1", []byte("x")); greep.ErrorCode(err) != greep.ECONFLICT {
		t.Fatalf("a second create: %v, want a conflict", err)
	}
	mine := errors.New("nothing to change")
	if err := s.UpdateState(ctx, "doc", func([]byte) ([]byte, error) { return nil, mine }); !errors.Is(err, mine) {
		t.Fatalf("update: %v", err)
	}
	if n := errors_(); n != 0 {
		t.Fatalf("%v store errors counted for a conflict and a caller's abort", n)
	}

	// A store that cannot write (closed here; a full disk in the issue) is counted.
	raw.Close()
	if err := s.PutRecord(ctx, "k", "2", []byte("y")); err == nil {
		t.Fatal("a closed store accepted a write")
	}
	if n := errors_(); n != 1 {
		t.Errorf("%v store errors counted, want 1", n)
	}
	if f := m.LastStoreFailure(); f.Op != "PutRecord" || f.Error == "" || f.At.IsZero() {
		t.Errorf("last failure %+v", f)
	}
}

// sum adds up every series of the family name.
func sum(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			total += s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	return total
}

// Units committed together reach the store together and fail alone; each failure the
// store makes counts once, a contract answer (a group the store lacks) not at all.
func TestCommitAllPassesUnitsOnAndCountsEachFailure(t *testing.T) {
	ctx := context.Background()
	raw, m, s := instrumented(t)
	unit := func() *greep.Writes { return &greep.Writes{Counts: []greep.Count{{Name: "units", Delta: 1}}} }
	missing := unit()
	missing.Members = []greep.MembersWrite{{GroupID: "missing", SyncedAt: time.Now()}}
	before := raw.WriteStats().Transactions
	errs := greep.CommitAll(ctx, s, []*greep.Writes{unit(), missing, unit()})
	if errs[0] != nil || greep.ErrorCode(errs[1]) != greep.ENOTFOUND || errs[2] != nil {
		t.Fatalf("errors %v: want only the second unit's, not found", errs)
	}
	if n, _ := s.Count(ctx, "units"); n != 2 {
		t.Errorf("counter units = %d, want 2", n)
	}
	// The batch's transaction, rolled back, then each unit alone.
	if tx := raw.WriteStats().Transactions - before; tx != 4 {
		t.Errorf("%d write transactions, want 4: the batch together, then each alone", tx)
	}
	if n := sum(t, m, "greep_store_errors_total"); n != 0 {
		t.Errorf("%v store errors counted for a contract answer", n)
	}
	raw.Close()
	errs = greep.CommitAll(ctx, s, []*greep.Writes{unit(), unit()})
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("a closed store took units: %v", errs)
	}
	if n := sum(t, m, "greep_store_errors_total"); n != 2 {
		t.Errorf("%v store errors counted for two failed units, want 2", n)
	}
}
