// Package workspacesim is a stand-in for Google Workspace's Admin APIs, and only that: it
// serves the REST paths, parameters, JSON and paging of the Directory API v1, the Groups
// Settings API v1 and the Reports API v1 exactly as the official google.golang.org/api
// clients call them, with Google's quotas, error shapes, read lag and push notifications,
// over a synthetic tenant generated deterministically from a seed.
//
// # Go API
//
// Build one in-process (tests, greep local, greep bench):
//
//	srv, err := workspacesim.Start(workspacesim.Config{Users: 200, Groups: 300, Seed: 1})
//	defer srv.Close()
//	// srv.URL is "http://127.0.0.1:PORT"; srv.Sim is the *Sim behind it.
//	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
//
// or mount it yourself: New(Config) returns a *Sim, which is an http.Handler (call Close
// when done: it stops the push workers and cancels pushes in flight). Every method is safe
// for concurrent use. The official clients are built with
// option.WithEndpoint(URL+"/") for Directory and Reports and
// option.WithEndpoint(URL+"/groups/v1/groups/") for Groups Settings (see pkg/workspace).
//
//	Config{Domain, Users, Groups, Seed, Start, TimeScale, QuotaPerMinute, QuotaPerDay,
//	       ReadLag, Faults, DropRate, PushRetryBase, PushMaxAttempts, PushClient}
//	New(Config) (*Sim, error)         Start(Config) (*Server, error)   (*Server).Close()
//	(*Sim).ServeHTTP                  (*Sim).Close()
//	(*Sim).Now() time.Time            (*Sim).Advance(time.Duration)     simulated clock
//	(*Sim).OnAdvance(func())          told after each Advance (timers re-check the clock)
//	(*Sim).Stats() Stats              calls per method, rejections, quota used today
//	(*Sim).Truth(groupKey) (Truth, error)   actual state, never lagged ("" = whole tenant;
//	                                  ErrNoGroup if unknown; Settings maps are read-only)
//	(*Sim).Apply([]Mutation) error    changes; each yields Reports activities and pushes
//	                                  (all checked for form first; stops at the first that
//	                                  cannot apply, the ones before it staying applied)
//	(*Sim).SetFaults(Faults) error    injected 429/500/503 and slow answers
//	(*Sim).Domain(), CustomerID(), Admin(), Sentinel() string
//	SentinelLocalPart                 "secure-sentinel": Sentinel() is it @Domain()
//	APIDirectory, APIGroupsSettings, APIReports   the keys of QuotaPerDay and Stats.UsedToday
//
// # Control API (under the simulator's own address; never quota'd, never counted)
//
//	GET  /sim/v1/stats                  Stats as JSON
//	GET  /sim/v1/truth[?group=EMAIL]    Truth as JSON
//	POST /sim/v1/mutations              [Mutation, ...]
//	POST /sim/v1/clock                  {"advance":"24h"}; GET /sim/v1/clock gives {"now": ...}
//	POST /sim/v1/faults                 Faults as JSON ({"rateLimited":0.1,"slow":0.01,"slowDelay":"2s"})
//
// # Semantics worth knowing
//
// Design: one mutex guards the tenant; a call does a map lookup or a binary search plus the
// work of its own page (lists are sorted by email and page tokens are cursors), then
// encodes its answer outside the lock. Read lag keeps a second copy of the groups that
// replays each change once it is ReadLag old. See docs/simulator.md for the figures.
//
// The clock: Now() = Start + TimeScale × (wall time since New) + every Advance. Quota
// windows, the daily reset (midnight America/Los_Angeles), read lag and channel expiry all
// follow it.
//
// Quotas are counted per API (directory, groupssettings, reports). The short window is per
// user, the user being the bearer token (tests send the impersonated admin's email), in
// calendar minutes of the simulated clock: at most QuotaPerMinute answered calls per
// minute, else 403 userRateLimitExceeded. QuotaPerDay[api] > 0 caps the calls answered per
// quota day; once reached, every call of that API gets 403 dailyLimitExceeded until the
// reset. Rejected calls are not charged.
//
// Reads (every API GET) see the tenant as it was ReadLag ago on the simulated clock; writes
// and /sim/v1/truth see the actual state.
//
// Every mutation (Apply, /sim/v1/mutations, Groups Settings PATCH/PUT) yields Reports API
// activities under the "admin" application (or "groups" if the Mutation says so) and
// pushes each to every live watch channel that matches it, after a "sync" message that
// each channel receives first.
package workspacesim
