package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// testEventPrune: pruning removes exactly the events older than the cutoff, at most the
// batch asked for at a time, from every listing (the group filter's index too), and a
// pruned id can be recorded again.
func testEventPrune(t *testing.T, s greep.Store) {
	var evs []greep.Event
	for i := range 7 {
		g := "a@example.com"
		if i%2 == 1 {
			g = "b@example.com"
		}
		evs = append(evs, event(fmt.Sprintf("old%d", i), t0.Add(time.Duration(i)*time.Minute), g))
	}
	evs = append(evs, event("cut", t0.Add(time.Hour), "a@example.com"), // at the cutoff: kept
		event("new", t0.Add(2*time.Hour), "b@example.com"))
	_, err := s.AddEvents(ctx, evs)
	must(t, err)
	cutoff := t0.Add(time.Hour)
	var batches []int
	for {
		n, err := s.PruneEvents(ctx, cutoff, 3)
		must(t, err)
		if n == 0 {
			break
		}
		if n > 3 {
			t.Fatalf("a prune of at most 3 removed %d", n)
		}
		batches = append(batches, n)
		if len(batches) > 10 {
			t.Fatal("pruning never ends")
		}
	}
	if !reflect.DeepEqual(batches, []int{3, 3, 1}) {
		t.Errorf("pruned in batches %v, want [3 3 1]", batches)
	}
	for _, tc := range []struct {
		q    greep.EventQuery
		want []string
	}{
		{greep.EventQuery{}, []string{"cut", "new"}},
		{greep.EventQuery{Group: "a@example.com"}, []string{"cut"}},
		{greep.EventQuery{Group: "b@example.com"}, []string{"new"}},
	} {
		es, _, err := s.Events(ctx, tc.q)
		must(t, err)
		if got := eventIDs(es); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("after pruning, Events(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	n, err := s.AddEvents(ctx, []greep.Event{evs[0]})
	must(t, err)
	if n != 1 {
		t.Errorf("a pruned event recorded again: added %d, want 1", n)
	}
}
