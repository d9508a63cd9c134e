// Package api is Greep's read API, the default service: the /v1 JSON API, a read-only
// Directory API-compatible surface that Google's own clients can be pointed at, /v1/status
// and the dashboard. Everything is served from the cache; no request reaches Google.
//
// Errors are Google's error JSON everywhere. Page tokens are opaque and bound to their
// query. Member lists are rendered once per snapshot, so the hot paths (a group's members,
// a user's groups) cost a store lookup or two and a copy.
package api

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/history"
	"github.com/greephq/greep/pkg/metrics"
)

// Store is what the read API reads; greep.Store implements it.
type Store interface {
	Group(ctx context.Context, key string) (greep.Group, error)
	Groups(ctx context.Context, p greep.Page) ([]greep.Group, string, error)
	Members(ctx context.Context, groupID string) ([]greep.Member, error)
	Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error)
	MemberOf(ctx context.Context, memberKey string) ([]string, error)
	User(ctx context.Context, key string) (greep.User, error)
	Users(ctx context.Context, q greep.UserQuery) ([]greep.User, string, error)
	Events(ctx context.Context, q greep.EventQuery) ([]greep.Event, string, error)
	Findings(ctx context.Context, q greep.FindingQuery) ([]greep.Finding, string, error)
	State(ctx context.Context, name string) ([]byte, error)
}

// StatusSource gives the live figures that are not in the store: the queues' dispatch
// and the APIs' daily quota use. `greep local` passes its dispatcher and budget guard.
type StatusSource interface {
	QueueStats(ctx context.Context) (map[string]greep.QueueStat, error)
	QuotaUsage(ctx context.Context) (map[string]greep.QuotaUsage, error)
}

// Config is what New needs.
type Config struct {
	Store Store
	// Status is optional; without it /v1/status and the dashboard show no queues or quota.
	Status StatusSource
	// Metrics serves GET /metrics (pkg/metrics' handler) behind the status scope; without
	// it /metrics is 404.
	Metrics http.Handler
	// History is the dashboard's in-memory 24-hour ring (pkg/metrics.Ring, fed by the
	// metrics' events); without it the dashboard draws no charts.
	History *metrics.Ring
	// Auth authenticates every route but /healthz: auth.NewStaticToken locally,
	// auth.NewIDToken in production.
	Auth   auth.Authenticator
	Logger *zap.Logger
	// Now is the clock (time.Now when nil); the dashboard's projections use it.
	Now func() time.Time
	// PageTokenKey signs page tokens. Every instance serving the same clients must share
	// it, or a page token from one instance is refused by the next; empty draws a random
	// key, which is right for a single process.
	PageTokenKey []byte
	// CacheMembers bounds how many members are kept rendered in memory (default 500,000,
	// about 200 MB).
	CacheMembers int
	// AnswerTTL is how long groups' metadata (too costly to revalidate on every request)
	// is served from memory: default one second, negative to never. Member lists are
	// revalidated against the group's snapshot version on every read of the group, so
	// they follow the store within the same bound; users' groups are revalidated against
	// the change feed (usergroups.go). Negative also turns off the users' groups cache.
	AnswerTTL time.Duration
	// CacheUserGroups bounds the bytes of users' rendered groups kept in memory
	// (DefaultCacheUserGroups when zero).
	CacheUserGroups int
	// MaxExpansions bounds how many nested-group expansions (transitive=true,
	// includeDerivedMembership, hasMember) are computed at once (default GOMAXPROCS);
	// requests for an expansion already being computed wait for it instead.
	MaxExpansions int
	// ExpansionWait is how long an expansion may wait for its turn before the request is
	// answered 503 with Retry-After (default 5 s).
	ExpansionWait time.Duration
	// HistoryRetention is how far back GET /v1/history exports may reach
	// (DefaultHistoryRetention when zero).
	HistoryRetention time.Duration
	// Pprof serves net/http/pprof under /debug/pprof/ to clients with the status scope
	// (the operators', as /metrics); off, those paths are 404.
	Pprof bool
}

// DefaultAnswerTTL is Config.AnswerTTL's default.
const DefaultAnswerTTL = time.Second

// DefaultCacheMembers is Config.CacheMembers' default.
const DefaultCacheMembers = 500_000

type server struct {
	store Store
	feed  feedStore // nil when the store keeps no change feed
	head  *feedHead // the feed's head, kept between requests; nil without a feed
	// cursorText is the last head listCursor formatted.
	cursorText atomic.Pointer[cursorText]
	status     StatusSource
	auth       auth.Authenticator
	log        *zap.Logger
	now        func() time.Time
	tokens     *pageTokens
	snaps      *snapshots
	gate       *gate // expansions' concurrency
	logins     *loginLimiter
	users      *userAnswers           // users' groups, rendered, by version; nil: off
	walks      *ttlCache[walked]      // expansions by group and scope, with the root's version
	groups     *ttlCache[greep.Group] // groups by the key they were asked by
	listed     *ttlCache[listedAt]    // groups by the key as the path spelled it, read after the feed's cursor
	queries    queryMemo              // parsed query strings (query.go)
	router     *stateRouter

	metrics   http.Handler // GET /metrics; nil: 404
	pprof     bool         // /debug/pprof/
	retention time.Duration
	rates     rates // the dashboard's achieved queue rates
	history   *metrics.Ring
	answerTTL time.Duration

	// projector copies the syncs' change records into the history (nil: the store
	// cannot).
	projector *history.Projector
}

// New returns the read API's handler, to be mounted at "/".
func New(cfg Config) (http.Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return s.router, nil
}

func newServer(cfg Config) (*server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: a store is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("api: an authenticator is required (auth.NewStaticToken or auth.NewIDToken)")
	}
	s := &server{store: cfg.Store, status: cfg.Status, auth: cfg.Auth, log: cfg.Logger, now: cfg.Now}
	s.metrics = cfg.Metrics
	s.history = cfg.History
	s.pprof = cfg.Pprof
	s.feed, _ = cfg.Store.(feedStore)
	s.projector = history.NewProjector(cfg.Store)
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	key := cfg.PageTokenKey
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	s.tokens = newPageTokens(key)
	s.retention = cfg.HistoryRetention
	if s.retention <= 0 {
		s.retention = DefaultHistoryRetention
	}
	budget := cfg.CacheMembers
	if budget <= 0 {
		budget = DefaultCacheMembers
	}
	s.snaps = newSnapshots(cfg.Store, budget)
	s.gate = newGate(cfg.MaxExpansions, cfg.ExpansionWait)
	s.logins = newLoginLimiter(s.now)
	ttl := cfg.AnswerTTL
	if ttl == 0 {
		ttl = DefaultAnswerTTL
	}
	s.answerTTL = ttl
	if s.feed != nil {
		s.head = &feedHead{feed: s.feed, now: s.now, ttl: ttl}
	}
	if ttl > 0 {
		userBudget := cfg.CacheUserGroups
		if userBudget <= 0 {
			userBudget = DefaultCacheUserGroups
		}
		s.users = newUserAnswers(userBudget)
	}
	s.groups = newTTLCache[greep.Group](ttl, s.now, 200_000)
	s.listed = newTTLCache[listedAt](ttl, s.now, 200_000)
	s.walks = newTTLCache[walked](ttl, s.now, 10_000)
	s.router = s.routes()
	return s, nil
}

func (s *server) routes() *stateRouter {
	r := chi.NewRouter()
	r.Use(noSniff, s.recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeGoogleError(w, http.StatusNotFound, "notFound", "Not Found: "+r.URL.Path)
	})
	r.MethodNotAllowed(methodNotAllowed)

	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})

	r.With(s.dashboardAuth).Get("/", s.dashboard)
	r.With(s.dashboardAuth).Get("/dashboard/live", s.dashboardLive)
	r.Get("/dashboard.js", dashboardScript)
	r.Post("/login", s.login)

	r.Group(func(r chi.Router) {
		r.Use(privateAnswers, s.authenticate)
		groups := r.With(need(auth.ScopeGroups))
		groups.Get("/v1/groups", s.v1Groups)
		groups.Get("/v1/groups/{groupKey}", s.v1Group)
		groups.Get("/v1/groups/{groupKey}/members", s.v1Members)
		groups.Get("/v1/groups/{groupKey}/settings", s.v1Settings)
		groups.Get("/v1/users/{userKey}/groups", s.v1UserGroups)
		groups.Get("/v1/users", s.v1Users)
		groups.Get("/v1/users/{userKey}", s.v1User)
		groups.Get("/v1/changes", s.v1Changes)
		history := r.With(need(auth.ScopeHistory))
		history.Get("/v1/groups/{groupKey}/history", s.v1GroupHistory)
		history.Get("/v1/history", s.v1History)
		r.With(need(auth.ScopeFindings)).Get("/v1/findings", s.v1Findings)
		r.With(need(auth.ScopeStatus)).Get("/v1/status", s.v1Status)
		if s.metrics != nil {
			r.With(need(auth.ScopeStatus)).Method(http.MethodGet, "/metrics", s.metrics)
		}
		if s.pprof {
			r.With(need(auth.ScopeStatus)).Handle(pprofPrefix+"*", pprofHandler())
		}

		r.Route(directoryPrefix, func(r chi.Router) {
			r.Use(need(auth.ScopeGroups))
			r.Get("/groups", s.dirGroups)
			r.Get("/groups/{groupKey}", s.dirGroup)
			r.Get("/groups/{groupKey}/members", s.dirMembers)
			r.Get("/groups/{groupKey}/members/{memberKey}", s.dirMember)
			r.Get("/groups/{groupKey}/hasMember/{memberKey}", s.dirHasMember)
			// The surface is read-only: any write, on any Directory path, is 405 in
			// Google's shape rather than a confusing 404.
			r.HandleFunc("/*", func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					writeGoogleError(w, http.StatusNotFound, "notFound", "Not Found: "+r.URL.Path+" is not served by Greep")
					return
				}
				methodNotAllowed(w, r)
			})
		})
	})
	return withRequestState(r)
}

const directoryPrefix = "/admin/directory/v1"

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET")
	writeGoogleError(w, http.StatusMethodNotAllowed, "methodNotAllowed",
		"Method "+r.Method+" is not allowed: Greep serves a read-only copy of the directory; write to Google")
}

// authenticate resolves the bearer token to a principal, answering 401 or 403 itself.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok && r.Header.Get("Authorization") != "" {
			s.writeError(w, r, greep.Errorf(greep.EUNAUTHORIZED, "Invalid Credentials: the Authorization header must be \"Bearer <token>\""))
			return
		}
		p, err := s.auth.Authenticate(r.Context(), token)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		setPrincipal(r, p)
		next.ServeHTTP(w, r)
	})
}

func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

// need refuses principals without scope with 403.
func need(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !principalFrom(r.Context()).Can(scope) {
				writeGoogleError(w, http.StatusForbidden, "forbidden", "The client is not allowed this request: it needs the scope "+scope)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", zap.String("path", r.URL.Path), zap.Any("panic", v), zap.Stack("stack"))
				writeGoogleError(w, http.StatusInternalServerError, "backendError", "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
