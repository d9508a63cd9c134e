package history_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/history"
)

// TestPruneRemovesOnlyWhatIsOlder: more events than one batch older than the cutoff all
// go; the ones at or after it stay.
func TestPruneRemovesOnlyWhatIsOlder(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var evs []greep.Event
	for i := range 1200 {
		evs = append(evs, greep.Event{ID: fmt.Sprintf("e%04d", i), Time: t0.Add(time.Duration(i) * time.Second), Event: "ADD_GROUP_MEMBER", Group: "g@example.com"})
	}
	if _, err := s.AddEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	n, err := history.Prune(ctx, s, t0.Add(1100*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1100 {
		t.Errorf("pruned %d, want 1100", n)
	}
	left, _, err := s.Events(ctx, greep.EventQuery{Page: greep.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 100 || left[0].ID != "e1100" {
		t.Errorf("left %d events starting %+v, want 100 from e1100", len(left), left[:min(1, len(left))])
	}
}
