// Package quota is the daily budget guard. Every Google API call is counted against its
// API's quota day before it is made; background lanes (sweeps) are refused once the count
// reaches their fraction of the daily limit, push-driven lanes may use the rest, and the
// limit itself is never crossed, because a call that would cross it is refused before it
// is sent. Crossing a Google daily quota fails every call until the reset, hours away, so
// the guard trades a rescheduled sweep for never stalling every downstream syncer.
//
// The counts live in the store's counters, so they survive restarts and are correct with
// many instances.
package quota

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queueconfig"
)

// Counter is the part of greep.StateStore the guard needs.
type Counter interface {
	AddCount(ctx context.Context, name string, delta int64) (int64, error)
	Count(ctx context.Context, name string) (int64, error)
}

// Guard counts calls and refuses those the budget does not allow. It is safe for
// concurrent use.
type Guard struct {
	counts Counter
	cfg    *queueconfig.Config
	zone   *time.Location
	now    func() time.Time
	held   holdings
}

// Option configures a Guard.
type Option func(*Guard)

// WithClock makes the guard read time from now: a simulated clock makes a quota day pass
// in seconds.
func WithClock(now func() time.Time) Option { return func(g *Guard) { g.now = now } }

// WithZone overrides the zone whose midnight starts the quota day (queues.yaml timeZone).
func WithZone(loc *time.Location) Option { return func(g *Guard) { g.zone = loc } }

// New returns a guard of the APIs and lanes of cfg, counting in counts.
func New(counts Counter, cfg *queueconfig.Config, opts ...Option) *Guard {
	g := &Guard{counts: counts, cfg: cfg, zone: cfg.TimeZone, now: time.Now}
	if g.zone == nil {
		g.zone = time.UTC
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// ErrExhausted matches every *ExhaustedError with errors.Is.
var ErrExhausted = errors.New("daily quota budget exhausted")

// ExhaustedError refuses a call: the lane's daily budget is spent. The work should be
// rescheduled at ResetAt, when the quota day ends.
type ExhaustedError struct {
	API        string
	Lane       string
	Background bool
	// Used is the API's count today; Cap is where the lane stops; Limit the daily limit.
	Used, Cap, Limit int64
	ResetAt          time.Time
}

func (e *ExhaustedError) Error() string {
	kind := "push lane"
	if e.Background {
		kind = "background lane"
	}
	return fmt.Sprintf("quota: %s %q may not spend more %s calls today: %d used, it stops at %d of the daily limit %d; resets at %s",
		kind, e.Lane, e.API, e.Used, e.Cap, e.Limit, e.ResetAt.Format(time.RFC3339))
}

// Is makes errors.Is(err, quota.ErrExhausted) true.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

// ResetAfter reports when work refused by err may run again.
func ResetAfter(err error) (time.Time, bool) {
	var e *ExhaustedError
	if errors.As(err, &e) {
		return e.ResetAt, true
	}
	return time.Time{}, false
}

// Day returns the quota day t falls in (its date in the guard's zone, queues.yaml's
// timeZone) and when it ends. The guard is the only source of quota days: every worker
// reschedules by it.
func (g *Guard) Day(t time.Time) (day string, resetAt time.Time) { return Calendar{g.zone}.Day(t) }

// Now is the clock the guard counts quota days by: the process's one clock.
func (g *Guard) Now() time.Time { return g.now() }

func counterName(api, day string) string { return "quota/" + api + "/" + day }

// Reserve counts one call of api made by lane ("" for work outside any task, which is
// treated as push work) and refuses it, uncounted, when the lane's budget is spent. Call
// it before the call: a refused call is never sent. The call may use a reservation
// counted earlier in a block (blocks.go): counted it is either way.
func (g *Guard) Reserve(ctx context.Context, api, lane string) error {
	a, ok := g.cfg.APIs[api]
	if !ok {
		return greep.Errorf(greep.EINTERNAL, "quota: no quota declared for API %q in queues.yaml", api)
	}
	limit, background := a.PerDay, false
	if lane != "" {
		l, ok := g.cfg.Lane(lane)
		if !ok {
			return greep.Errorf(greep.EINTERNAL, "quota: queue %q is not declared in queues.yaml", lane)
		}
		// A lane's rate is derived from one API's quota; a call to another API would
		// spend quota nothing paces.
		if l.API != api {
			return greep.Errorf(greep.EINTERNAL, "quota: queue %q paces %s calls, but its task called the %s API (one service, one API)", lane, apiOrNone(l.API), api)
		}
		limit, background = l.DailyCap(), l.Background
	}
	day, resetAt := g.Day(g.now())
	name := counterName(api, day)
	k := laneKey{api, lane}
	if g.held.take(k, name) {
		return nil
	}
	// The lane looks before it reserves: refused reservations would otherwise inflate
	// the count for a moment and could refuse push work the last slots under the full
	// limit (seen as 99 of 100 allowed). What it sees also sizes the block.
	used, err := g.counts.Count(ctx, name)
	if err != nil {
		return fmt.Errorf("quota: reading the %s count: %w", api, err)
	}
	if used >= limit {
		return &ExhaustedError{API: api, Lane: lane, Background: background, Used: used, Cap: limit, Limit: a.PerDay, ResetAt: resetAt}
	}
	block := blockSize(limit - used)
	n, err := g.counts.AddCount(ctx, name, block)
	if err != nil {
		return fmt.Errorf("quota: counting a %s call: %w", api, err)
	}
	granted := block
	if over := n - limit; over > 0 {
		// Past the cap: give back what is over, so the count stays the calls made or
		// held. Concurrent reservers may be refused meanwhile, which errs safe.
		back := min(over, block)
		if _, err := g.counts.AddCount(ctx, name, -back); err != nil {
			return fmt.Errorf("quota: returning a refused %s reservation: %w", api, err)
		}
		granted -= back
	}
	if granted == 0 {
		return &ExhaustedError{API: api, Lane: lane, Background: background, Used: n - block, Cap: limit, Limit: a.PerDay, ResetAt: resetAt}
	}
	g.held.add(k, name, granted-1) // this call uses one
	return nil
}

func apiOrNone(api string) string {
	if api == "" {
		return "no"
	}
	return api
}

// Usage returns each API's count for the current quota day.
func (g *Guard) Usage(ctx context.Context) (map[string]greep.QuotaUsage, error) {
	day, resetAt := g.Day(g.now())
	out := make(map[string]greep.QuotaUsage, len(g.cfg.APIs))
	for _, name := range g.cfg.APINames() {
		// Reservations this instance holds are not calls yet; other instances' are
		// counted as used (at most maxBlock a lane each). Held is read first, so a
		// block reserved in between shows as used for a moment instead of taking the
		// figure below zero.
		held := g.held.unused(counterName(name, day))
		n, err := g.counts.Count(ctx, counterName(name, day))
		if err != nil {
			return nil, fmt.Errorf("quota: reading the %s count: %w", name, err)
		}
		n -= held
		out[name] = greep.QuotaUsage{UsedToday: n, DailyLimit: g.cfg.APIs[name].PerDay, ResetAt: resetAt}
	}
	return out, nil
}

// Release gives the reservations held ahead back to the store's counts, so a clean stop
// leaves the count the calls made. Call it once nothing reserves any more.
func (g *Guard) Release(ctx context.Context) error {
	var errs []error
	for name, n := range g.held.drain() {
		if _, err := g.counts.AddCount(ctx, name, -n); err != nil {
			errs = append(errs, fmt.Errorf("quota: returning %d unused reservations of %s: %w", n, name, err))
		}
	}
	return errors.Join(errs...)
}
