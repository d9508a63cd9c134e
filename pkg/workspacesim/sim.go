package workspacesim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Config shapes a simulator. The zero value is a valid, empty tenant (the admin and the
// sentinel users only) at Google's default short-window quota.
type Config struct {
	// Domain is the tenant's primary domain; "example.com" if empty.
	Domain string
	// Users and Groups size the synthetic tenant (Users counts the admin and the sentinel).
	Users, Groups int
	// Seed makes generation and injected faults reproducible.
	Seed int64
	// Start is the simulated clock's starting time; now (wall clock) if zero.
	Start time.Time
	// TimeScale runs the simulated clock this many times faster than the wall clock; 1 if 0.
	TimeScale float64
	// QuotaPerMinute is the per-user short-window quota of each API: 0 means
	// DefaultQuotaPerMinute, negative means unlimited.
	QuotaPerMinute int64
	// QuotaPerDay caps each API's calls per quota day (keys APIDirectory,
	// APIGroupsSettings, APIReports); missing or 0 means unlimited.
	QuotaPerDay map[string]int64
	// ReadLag is how far behind writes reads are, in simulated time.
	ReadLag time.Duration
	// Faults are injected into API calls (never into the control API).
	Faults Faults
	// DropRate is the fraction of push notifications silently lost (sync messages never are).
	DropRate float64
	// PushRetryBase is the wall-time wait before the first retry of a push answered 5xx or
	// not answered at all; it doubles per attempt. 200ms if 0.
	PushRetryBase time.Duration
	// PushMaxAttempts bounds the tries of one notification; 5 if 0.
	PushMaxAttempts int
	// PushClient sends push notifications; a client with a 10 s timeout if nil.
	PushClient *http.Client
}

// Faults are the fractions of API calls answered with an injected error or slowly.
type Faults struct {
	RateLimited   float64       `json:"rateLimited"`   // 429 rateLimitExceeded
	InternalError float64       `json:"internalError"` // 500 backendError
	Unavailable   float64       `json:"unavailable"`   // 503 backendError
	Slow          float64       `json:"slow"`          // answered after SlowDelay (wall time)
	SlowDelay     time.Duration `json:"-"`             // 1s if 0
}

func (f Faults) validate() error {
	for _, v := range []float64{f.RateLimited, f.InternalError, f.Unavailable, f.Slow} {
		if v < 0 || v > 1 {
			return fmt.Errorf("workspacesim: a fault rate must be within [0, 1], not %v", v)
		}
	}
	if sum := f.RateLimited + f.InternalError + f.Unavailable; sum > 1 {
		return fmt.Errorf("workspacesim: error fault rates add up to %v, more than 1", sum)
	}
	if f.SlowDelay < 0 {
		return errors.New("workspacesim: negative slow delay")
	}
	return nil
}

// Sim is a simulated Google Workspace tenant and the http.Handler that serves it.
type Sim struct {
	cfg   Config
	clock *clock
	mux   *http.ServeMux

	mu         sync.Mutex
	t          *tenant
	actual     *state  // what writes and Truth see
	visible    *state  // what reads see: actual as of ReadLag ago (== actual without lag)
	pending    []timed // changes made to actual, not yet visible
	lastChange time.Time
	ids        idGen
	quotas     *quotas
	faults     Faults
	rng        *rand.Rand
	calls      map[string]int64
	rejected   Rejected
	log        activityLog
	channels   map[string]*channel
	pushes     PushStats

	closeOnce sync.Once
	closed    chan struct{}
	stopPush  context.CancelFunc // cancels pushes in flight on Close
	pushCtx   context.Context
	workers   sync.WaitGroup
}

type timed struct {
	at time.Time
	c  change
}

// New generates the tenant of cfg and returns its simulator.
func New(cfg Config) (*Sim, error) {
	if cfg.Domain == "" {
		cfg.Domain = "example.com"
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	if cfg.Users < 0 || cfg.Groups < 0 {
		return nil, fmt.Errorf("workspacesim: negative tenant size (%d users, %d groups)", cfg.Users, cfg.Groups)
	}
	if cfg.TimeScale < 0 || cfg.ReadLag < 0 || cfg.DropRate < 0 || cfg.DropRate > 1 {
		return nil, errors.New("workspacesim: time scale, read lag and drop rate must not be negative (drop rate at most 1)")
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	for api, n := range cfg.QuotaPerDay {
		if api != APIDirectory && api != APIGroupsSettings && api != APIReports {
			return nil, fmt.Errorf("workspacesim: quota for unknown API %q (want %s, %s or %s)", api, APIDirectory, APIGroupsSettings, APIReports)
		}
		if n < 0 {
			return nil, fmt.Errorf("workspacesim: negative daily quota for %s", api)
		}
	}
	if cfg.QuotaPerMinute == 0 {
		cfg.QuotaPerMinute = DefaultQuotaPerMinute
	}
	if cfg.PushRetryBase <= 0 {
		cfg.PushRetryBase = 200 * time.Millisecond
	}
	if cfg.PushMaxAttempts <= 0 {
		cfg.PushMaxAttempts = 5
	}
	if cfg.PushClient == nil {
		cfg.PushClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Sim{
		cfg:      cfg,
		clock:    newClock(cfg.Start, cfg.TimeScale, nil),
		quotas:   newQuotas(cfg.QuotaPerMinute, cfg.QuotaPerDay),
		faults:   cfg.Faults,
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), 0xfa017fa017)),
		calls:    map[string]int64{},
		channels: map[string]*channel{},
		closed:   make(chan struct{}),
	}
	s.pushCtx, s.stopPush = context.WithCancel(context.Background())
	s.ids.n = uint64(cfg.Seed) << 32
	s.t = generate(cfg, &s.ids, s.clock.Now())
	s.actual = s.t.state
	s.visible = s.actual
	if cfg.ReadLag > 0 {
		s.visible = s.actual.clone()
	}
	s.routes()
	return s, nil
}

// Close stops the push workers. The handler keeps answering.
func (s *Sim) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.stopPush()
	})
	s.workers.Wait()
}

// Now is the simulated time.
func (s *Sim) Now() time.Time { return s.clock.Now() }

// Advance moves the simulated clock forward by d (negative d is ignored: time only runs
// forward).
func (s *Sim) Advance(d time.Duration) {
	if d > 0 {
		s.clock.Advance(d)
	}
}

// OnAdvance calls f after each Advance, so timers on the simulated clock (which sleep in
// wall time) can fire at once instead of polling the clock.
func (s *Sim) OnAdvance(f func()) { s.clock.onAdvance(f) }

// Domain is the tenant's primary domain.
func (s *Sim) Domain() string { return s.cfg.Domain }

// CustomerID is the tenant's customer id (my_customer resolves to it).
func (s *Sim) CustomerID() string { return s.t.customer.id }

// Admin is the email of the tenant's administrator: the subject (bearer token) to use.
func (s *Sim) Admin() string { return "admin@" + s.cfg.Domain }

// Sentinel is the address of the sentinel user marking secure groups.
func (s *Sim) Sentinel() string { return SentinelLocalPart + "@" + s.cfg.Domain }

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// readState is the state reads see now: the actual one as of ReadLag ago. Caller holds mu.
func (s *Sim) readState(now time.Time) *state {
	if s.cfg.ReadLag <= 0 {
		return s.actual
	}
	cut := now.Add(-s.cfg.ReadLag)
	i := 0
	for ; i < len(s.pending) && !s.pending[i].at.After(cut); i++ {
		s.visible.apply(s.pending[i].c)
	}
	if i > 0 {
		s.pending = append(s.pending[:0:0], s.pending[i:]...)
	}
	return s.visible
}

// Rejected counts calls refused by quotas or injected faults.
type Rejected struct {
	RateLimit  int64 `json:"rateLimit"`
	DailyLimit int64 `json:"dailyLimit"`
	Injected   int64 `json:"injected"`
}

// PushStats counts push notifications.
type PushStats struct {
	Delivered int64 `json:"delivered"` // answered 2xx or 102
	Retried   int64 `json:"retried"`   // retries after a 5xx or no answer
	Failed    int64 `json:"failed"`    // given up on (non-retryable answer or attempts spent)
	Dropped   int64 `json:"dropped"`   // lost on purpose (DropRate)
	// Queued counts notifications waiting to be sent or being sent: zero once every one
	// was delivered, failed, or abandoned with its channel, so a test can wait for it.
	Queued int64 `json:"queued"`
}

// Stats are the simulator's counters.
type Stats struct {
	Now time.Time `json:"now"`
	// Calls counts every API request answered, rejected ones included, by method
	// ("directory.groups.list", "groupssettings.groups.patch", "reports.activities.watch", ...).
	Calls    map[string]int64 `json:"calls"`
	Rejected Rejected         `json:"rejected"`
	// UsedToday counts the calls charged to each API's daily quota in the current quota day.
	UsedToday map[string]int64 `json:"usedToday"`
	QuotaDay  string           `json:"quotaDay"`
	ResetAt   time.Time        `json:"resetAt"`
	Pushes    PushStats        `json:"pushes"`
	Channels  int              `json:"channels"` // live (not stopped, not expired) channels
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quotas.roll(now)
	st := Stats{
		Now:       now,
		Calls:     make(map[string]int64, len(s.calls)),
		Rejected:  s.rejected,
		UsedToday: map[string]int64{APIDirectory: 0, APIGroupsSettings: 0, APIReports: 0},
		QuotaDay:  s.quotas.day,
		ResetAt:   nextReset(now).UTC(),
		Pushes:    s.pushes,
	}
	for k, v := range s.calls {
		st.Calls[k] = v
	}
	for k, v := range s.quotas.used {
		st.UsedToday[k] = v
	}
	for _, ch := range s.channels {
		if ch.live(now) {
			st.Channels++
		}
	}
	return st
}

// Server is a simulator listening on a loopback port.
type Server struct {
	URL string // "http://127.0.0.1:PORT", no trailing slash
	Sim *Sim
	srv *httptest.Server
}

// Start builds a simulator and serves it on a loopback port.
func Start(cfg Config) (*Server, error) {
	sim, err := New(cfg)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(sim)
	return &Server{URL: srv.URL, Sim: sim, srv: srv}, nil
}

// Close stops serving and stops the push workers.
func (s *Server) Close() {
	s.srv.Close()
	s.Sim.Close()
}
