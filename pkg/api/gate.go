package api

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"golang.org/x/sync/singleflight"
)

// A gate bounds the costly part of expansions (merging, sorting and hashing tens of
// thousands of members). Requests for the same expansion version share one computation,
// however many arrive at once, and at most a few distinct computations run together, so a
// burst on big nested groups cannot take every core and all the memory. A computation
// that cannot start within the wait is refused with 503 and Retry-After, rather than
// queueing requests until their clients time out.
type gate struct {
	flights singleflight.Group
	slots   chan struct{}
	wait    time.Duration
}

// DefaultExpansionWait is Config.ExpansionWait's default.
const DefaultExpansionWait = 5 * time.Second

func newGate(max int, wait time.Duration) *gate {
	if max <= 0 {
		max = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = DefaultExpansionWait
	}
	return &gate{slots: make(chan struct{}, max), wait: wait}
}

var errBusy = &httpError{status: http.StatusServiceUnavailable, reason: "backendError",
	message: "Service unavailable: too many nested-group expansions are being computed; retry shortly", retryAfter: "1"}

// do returns the result of compute for key, computing it once for every caller that asks
// while it runs. A caller stops waiting when its context ends; the computation goes on
// for the others (and fills the cache).
func (gt *gate) do(ctx context.Context, key string, compute func() (*snapshot, error)) (*snapshot, error) {
	ch := gt.flights.DoChan(key, func() (any, error) {
		t := time.NewTimer(gt.wait)
		defer t.Stop()
		select {
		case gt.slots <- struct{}{}:
		case <-t.C:
			return nil, errBusy
		}
		defer func() { <-gt.slots }()
		return compute()
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*snapshot), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
