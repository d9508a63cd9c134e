package local

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/history"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/wiring"
)

// Config is everything `greep local` is told by its flags and environment.
type Config struct {
	// Addr is where the one HTTP server listens (every service, the read API and the
	// dashboard); port 0 picks a free port.
	Addr string
	// DataDir holds the embedded store (greep.db) and so the queued tasks.
	DataDir string
	// Store is embedded (a bbolt file under DataDir) or datastore (DATASTORE_PROJECT_ID,
	// and DATASTORE_EMULATOR_HOST when set, as Google's tools read them).
	Store            string
	DatastoreProject string
	// APIToken is the bearer token the read API accepts; when empty, the one kept in
	// DataDir/api-token is used, or a random one is drawn and kept there (and printed).
	APIToken string

	// Workspace is "" for an embedded simulator, a simulator's URL (greep sim), or
	// "google" for the real Google Workspace.
	Workspace      string
	AdminSubject   string // the admin Greep impersonates (required with google)
	ServiceAccount string // the delegated service account, impersonated without a key

	// The embedded simulator's tenant.
	SimUsers, SimGroups int
	SimSeed             int64
	// SimQuotaPerMinute is the embedded simulator's short-window quota (0: Google's 2,400).
	SimQuotaPerMinute int64
	// SimClock, for library callers that run their own simulator at Workspace, is that
	// simulator's clock (its Sim.Now); without it the clock of an external simulator is
	// read once from /sim/v1/clock and extrapolated at TimeScale. Greep's timers sleep
	// until their deadline in wall time, so that simulator's Advance is seen only when
	// the next one fires (the embedded simulator's wakes them at once).
	SimClock func() time.Time

	// TimeScale runs the embedded simulator this many times faster than the wall clock;
	// queue rates, backoffs, debounce and resync periods follow the simulated clock, so
	// they scale with it.
	TimeScale float64
	// Debounce is the push service's delay before a refresh (simulated time).
	Debounce time.Duration
	// ResyncEvery is the period of the cheap resync; MaxAge bounds how old any group's
	// members may get (the rolling slice). 0 disables the resync.
	ResyncEvery time.Duration
	MaxAge      time.Duration
	// HistoryRetention is how long the history keeps events (0: 400 days,
	// history.DefaultRetention); older ones are pruned when a sweep finishes.
	HistoryRetention time.Duration
	// Rules is the remediation rules file (deploy/remediation.yaml by default, looked for
	// like QueuesFile); Remediation (detect or remediate) overrides its mode.
	Rules       string
	Remediation string
	// QueuesFile is queues.yaml; looked for in the working directory and its parents when
	// relative and not found there.
	QueuesFile string

	// NoInitialSync leaves the cache as it is at start (tests that drive sweeps).
	NoInitialSync bool
	// NoPush runs without watch channels and the webhook (the resync alone keeps the
	// cache fresh); NoRemediation without the settings sweep and rules.
	NoPush, NoRemediation bool
	// ReconcileEvery is how much unchecked history the reports cron lets pass before it
	// lists it (0: an hour; negative: never, for a scenario that isolates the resync).
	ReconcileEvery time.Duration
	// Pprof serves net/http/pprof under /debug/pprof/ behind the read API's token (off by
	// default).
	Pprof bool
	// PubSub is a Pub/Sub emulator's HOST:PORT to publish the change feed to (topic
	// greep-changes of project greep-local); empty: the feed is HTTP only.
	PubSub string
	// Timeouts bound slow and idle connections, as in production (zero fields take
	// service.DefaultTimeouts).
	Timeouts service.Timeouts
	Logger   *zap.Logger

	// GCPercent is the garbage collector's GOGC and MemoryLimitMiB its soft memory limit
	// (0: none), for the whole process while an App runs (gc.go); GOGC and GOMEMLIMIT in
	// the environment override them.
	GCPercent      int
	MemoryLimitMiB int64

	// PushSilence is how long no notification may arrive while the resync finds changes
	// before the push-silent alert fires (0: an hour).
	PushSilence time.Duration
}

// Defaults are the flags' defaults.
func Defaults() Config {
	dir := wiring.DefaultDirectory()
	return Config{
		Addr:        "127.0.0.1:8080",
		DataDir:     "./.greep",
		Store:       "embedded",
		SimUsers:    500,
		SimGroups:   2000,
		SimSeed:     1,
		TimeScale:   1,
		Debounce:    wiring.DefaultPush().Debounce,
		ResyncEvery: dir.ResyncEvery,
		MaxAge:      dir.MaxAge,
		// Written out so that --help shows it.
		HistoryRetention: history.DefaultRetention,
		Rules:            defaultRulesFile,
		Remediation:      "",
		QueuesFile:       defaultQueuesFile,
		GCPercent:        defaultGCPercent,
		MemoryLimitMiB:   defaultMemoryLimitMiB,
	}
}

// Validate refuses impossible combinations with a message naming the flag.
func (c *Config) Validate() error {
	var errs []error
	switch c.Store {
	case "embedded":
		if c.DataDir == "" {
			errs = append(errs, errors.New("--data: a directory is needed for the embedded store"))
		}
	case "datastore":
		if c.DatastoreProject == "" {
			errs = append(errs, errors.New("--store datastore: set DATASTORE_PROJECT_ID (and DATASTORE_EMULATOR_HOST for the emulator)"))
		}
	default:
		errs = append(errs, fmt.Errorf("--store %q: want embedded or datastore", c.Store))
	}
	switch {
	case c.Workspace == "":
		if c.SimUsers < 1 || c.SimGroups < 0 {
			errs = append(errs, fmt.Errorf("--sim-users %d --sim-groups %d: need at least one user and no negative count", c.SimUsers, c.SimGroups))
		}
	case c.Workspace == "google":
		if c.AdminSubject == "" || !strings.Contains(c.AdminSubject, "@") {
			errs = append(errs, errors.New("--workspace google needs --admin-subject admin@your-domain (domain-wide delegation acts as that admin)"))
		}
		if c.TimeScale != 1 {
			errs = append(errs, errors.New("--time-scale applies only to a simulator; Google's clock runs at 1×"))
		}
	default:
		u, err := url.Parse(c.Workspace)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--workspace %q: want a simulator URL (http://HOST:PORT) or google", c.Workspace))
		}
	}
	if !(c.TimeScale > 0) || c.TimeScale > 10000 {
		errs = append(errs, fmt.Errorf("--time-scale %v: want a number in (0, 10000]", c.TimeScale))
	}
	if c.ResyncEvery < 0 || c.MaxAge < 0 || c.Debounce < 0 {
		errs = append(errs, errors.New("--resync-every, --debounce and the maximum age must not be negative"))
	}
	if c.HistoryRetention < 0 {
		errs = append(errs, fmt.Errorf("--history-retention %v: must not be negative", c.HistoryRetention))
	}
	if c.MaxAge > 0 && c.ResyncEvery > 0 && c.MaxAge < c.ResyncEvery {
		errs = append(errs, fmt.Errorf("maximum age %v is shorter than --resync-every %v: no resync could keep it", c.MaxAge, c.ResyncEvery))
	}
	if c.GCPercent < 0 || c.MemoryLimitMiB < 0 {
		errs = append(errs, fmt.Errorf("--gc-percent %d --memory-limit-mib %d: must not be negative (0 leaves Go's own setting)", c.GCPercent, c.MemoryLimitMiB))
	}
	switch c.Remediation {
	case "", "detect", "remediate":
	default:
		errs = append(errs, fmt.Errorf("--remediation %q: want detect or remediate", c.Remediation))
	}
	return errors.Join(errs...)
}
