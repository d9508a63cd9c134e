// Package queueconfig reads queues.yaml: the quota each Google API grants and the lanes
// (queues) that spend it. A lane's dispatch rate is derived from its API's quota and never
// typed by hand, so changing a quota (or the number of admin subjects sharing the load)
// re-paces every lane that spends it. The package is pure: parsing, validation and
// planning, with no I/O beyond the bytes it is handed.
package queueconfig

import (
	"fmt"
	"math"
	"sort"
	"time"

	// The quota day is defined in a named zone (America/Los_Angeles by default); embedding
	// the zone database keeps that working on hosts without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// CloudTasksMaxRate is the most dispatches a second one Cloud Tasks queue allows.
const CloudTasksMaxRate = 500

// CloudTasksMaxConcurrency is the most concurrent dispatches one Cloud Tasks queue allows.
const CloudTasksMaxConcurrency = 5000

// Services a lane may target: the App Engine services that own task handlers.
var Services = []string{"directory", "groupssettings", "reports", "remediation"}

// Config is a parsed and validated queues.yaml.
type Config struct {
	// TimeZone is where the quota day starts and ends (Google resets per-day quotas at
	// midnight Pacific).
	TimeZone *time.Location
	// APIs by name (directory, groupssettings, reports).
	APIs map[string]*API
	// Lanes by queue name.
	Lanes map[string]*Lane
	// Scale multiplies every rate and divides every backoff: a simulated clock running
	// Scale times faster than the wall clock needs a wall-clock dispatcher this much faster.
	// 1 for production.
	Scale float64
}

// API is the quota Google grants one API.
type API struct {
	Name string
	// WindowLimit calls per Window per delegated admin subject (Google counts the short
	// window per user): 2,400 a minute for the Admin SDK today.
	WindowLimit int64
	Window      time.Duration
	// PerDay is the daily limit for the whole project. The guard never lets the count
	// cross it, so set it at or below what Google grants.
	PerDay int64
	// Subjects is how many delegated admin subjects share the load; each has its own
	// short-window quota.
	Subjects int
	// Headroom is the fraction of the short-window quota left unused, for clock skew
	// between Greep and Google and for other clients of the same project.
	Headroom float64
	// SharesWindowWith names the API whose short window this one's calls are counted in
	// (Google counts the Reports API in the Admin SDK's per-user window, with the
	// Directory API): the window, subjects and headroom are that API's, and the lanes of
	// both draw on one rate (Pool).
	SharesWindowWith string

	line int
}

// Pool names the short window the API's calls count in: the API's own name, or the API
// it shares its window with. The lanes of one pool split, and borrow from each other,
// one usable rate.
func (a *API) Pool() string {
	if a.SharesWindowWith != "" {
		return a.SharesWindowWith
	}
	return a.Name
}

// PerSecond is the API's whole usable rate: the short-window quota of every subject, less
// the headroom.
func (a *API) PerSecond() float64 {
	return float64(a.WindowLimit) / a.Window.Seconds() * float64(a.Subjects) * (1 - a.Headroom)
}

// Retry is a lane's retry policy, with Cloud Tasks' meaning: the first retry waits
// MinBackoff, the wait doubles MaxDoublings times, then grows linearly by
// MinBackoff*2^MaxDoublings, capped at MaxBackoff.
type Retry struct {
	MinBackoff   time.Duration
	MaxBackoff   time.Duration
	MaxDoublings int
	// MaxAttempts counts the first attempt too; -1 is unlimited.
	MaxAttempts int
}

// Backoff is the wait before retry number n (n = 0 for the first retry).
func (r Retry) Backoff(n int) time.Duration {
	if n < 0 {
		n = 0
	}
	min := float64(r.MinBackoff)
	var d float64
	if n <= r.MaxDoublings {
		d = min * math.Pow(2, float64(n))
	} else {
		d = min * math.Pow(2, float64(r.MaxDoublings)) * float64(n-r.MaxDoublings+1)
	}
	if d > float64(r.MaxBackoff) || math.IsInf(d, 0) {
		return r.MaxBackoff
	}
	return time.Duration(d)
}

// Lane is one queue: the API whose rate it spends, the share of that rate it gets, and
// where its tasks go.
type Lane struct {
	Name string
	// API is the Google API the lane's handlers call, "" for a lane that calls none
	// (remediation), whose rate is then typed as FixedRate.
	API string
	// Share is the fraction of the API's usable rate the lane gets. The shares of one API
	// add up to at most 1, so lanes together never exceed the quota.
	Share float64
	// FixedRate is the rate of a lane without an API, per second.
	FixedRate float64
	// Service is the App Engine service that runs the lane's tasks; PathPrefix is the
	// prefix every task path of the lane has.
	Service    string
	PathPrefix string
	// Concurrency caps tasks in flight at once.
	Concurrency int
	Retry       Retry
	// Background lanes (sweeps) stop at DailyBudget, a fraction of the API's daily limit;
	// push-driven lanes may use the rest.
	Background  bool
	DailyBudget float64

	api   *API
	scale float64
	line  int
}

// rawRate is the lane's rate before the Cloud Tasks cap and the time scale.
func (l *Lane) rawRate() float64 {
	if l.api == nil {
		return l.FixedRate
	}
	return l.api.PerSecond() * l.Share
}

// RatePerSecond is the lane's derived dispatch rate, capped at what Cloud Tasks allows and
// multiplied by the config's time scale.
func (l *Lane) RatePerSecond() float64 {
	return math.Min(l.rawRate(), CloudTasksMaxRate) * l.scale
}

// CeilingPerSecond is the most the lane dispatches when the other lanes of its pool
// leave their part of the rate unused: the pool's whole usable rate for a background lane,
// which borrows what push work does not use (push lanes still come first), and the
// lane's own rate otherwise. Capped and scaled as RatePerSecond.
func (l *Lane) CeilingPerSecond() float64 {
	if l.api == nil || !l.Background {
		return l.RatePerSecond()
	}
	return l.PoolPerSecond()
}

// PoolPerSecond is the usable rate of the pool (Pool) the lane's API belongs to, capped
// and scaled as RatePerSecond; 0 for a lane without an API.
func (l *Lane) PoolPerSecond() float64 {
	if l.api == nil {
		return 0
	}
	return math.Min(l.api.PerSecond(), CloudTasksMaxRate) * l.scale
}

// Pool is the pool of the lane's API ("" for a lane without an API).
func (l *Lane) Pool() string {
	if l.api == nil {
		return ""
	}
	return l.api.Pool()
}

// Capped reports whether the quota allows more than one Cloud Tasks queue can dispatch.
func (l *Lane) Capped() bool { return l.rawRate() > CloudTasksMaxRate }

// RetryPolicy is the lane's retry policy with backoffs divided by the time scale.
func (l *Lane) RetryPolicy() Retry {
	r := l.Retry
	r.MinBackoff = time.Duration(float64(r.MinBackoff) / l.scale)
	r.MaxBackoff = time.Duration(float64(r.MaxBackoff) / l.scale)
	return r
}

// DailyCap is the number of calls a day the lane's work may bring its API's count to:
// DailyBudget of the limit for background lanes, the whole limit otherwise, 0 for a lane
// without an API (no cap).
func (l *Lane) DailyCap() int64 {
	if l.api == nil {
		return 0
	}
	if l.Background {
		return int64(math.Floor(float64(l.api.PerDay) * l.DailyBudget))
	}
	return l.api.PerDay
}

// Lane returns the lane called name.
func (c *Config) Lane(name string) (*Lane, bool) {
	l, ok := c.Lanes[name]
	return l, ok
}

// LaneNames returns the lane names in order.
func (c *Config) LaneNames() []string {
	names := make([]string, 0, len(c.Lanes))
	for n := range c.Lanes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// APINames returns the API names in order.
func (c *Config) APINames() []string {
	names := make([]string, 0, len(c.APIs))
	for n := range c.APIs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WithScale returns a copy of c whose rates are multiplied, and backoffs divided, by x:
// what a wall-clock dispatcher needs to keep pace with a simulator whose clock runs x
// times faster than the wall clock.
func (c *Config) WithScale(x float64) (*Config, error) {
	if !(x > 0) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("time scale %v: must be a positive number", x)
	}
	out := &Config{TimeZone: c.TimeZone, APIs: map[string]*API{}, Lanes: map[string]*Lane{}, Scale: x}
	for n, a := range c.APIs {
		cp := *a
		out.APIs[n] = &cp
	}
	for n, l := range c.Lanes {
		cp := *l
		cp.scale = x
		if l.api != nil {
			cp.api = out.APIs[l.API]
		}
		out.Lanes[n] = &cp
	}
	return out, nil
}
