// Package remediation is the remediation service's task handlers. It evaluates a group's
// stored settings and members against the rules (pkg/rules) whenever they were read,
// records one finding per (group, rule), announces findings (pkg/notify) and, in remediate
// mode, hands a patch to the groupssettings queue. It calls no Google API itself: the
// groupssettings service (pkg/settingsworker) makes the one call a task allows.
//
// Member writes are judged too, not only settings reads: whoever changes a group's
// members (the directory worker after a read, the webhook after a provisional apply)
// enqueues
//
//	t, err := tasks.JudgeTask(tasks.Judge{Group: email, Version: activityIDOrReadTime, Provisional: true})
//	err = queue.Enqueue(ctx, t)
//
// and Judge opens and closes the group's findings at once, without a Google call and
// without a patch (see Judge).
//
// Three guards keep a remediation from doing harm:
//
//   - exemptions (from the rules file) leave a group unpatched and its findings exempt;
//   - the per-run cap: a run (one sweep, or one quota day of push-driven evaluations)
//     patches at most runCap groups; past it findings stay open and say how to override;
//   - the patch-loop guard: a group set back to an unsafe value is patched at most
//     maxPatchesPerDay times a day, then its findings are left failed, saying so.
package remediation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/rules"
)

// Handler paths of the remediation service besides tasks.PathRemediationEvaluate and
// notify.Path.
const (
	PathSweepSlice = "/tasks/remediation/sweep-slice"
	PathCronSweep  = "/cron/remediation/sweep"
)

// Store is what the service needs of the cache.
type Store interface {
	Group(ctx context.Context, key string) (greep.Group, error)
	Groups(ctx context.Context, p greep.Page) ([]greep.Group, string, error)
	Members(ctx context.Context, groupID string) ([]greep.Member, error)
	User(ctx context.Context, key string) (greep.User, error)
	Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error)
	Events(ctx context.Context, q greep.EventQuery) ([]greep.Event, string, error)
	greep.FindingStore
	greep.StateStore
}

// Config wires a Service.
type Config struct {
	Rules *rules.Config
	Store Store
	Queue queue.Enqueuer
	// Mode overrides Rules.Mode when set (greep local --remediation).
	Mode string
	// Now is the process's one clock (the runtime's): findings are stamped with it,
	// tasks scheduled by it. Default time.Now.
	Now func() time.Time
	// Days is the daily budget guard's calendar: the patch-loop guard's and push-driven
	// runs' day is the quota day. Default: queues.yaml's default zone.
	Days quota.Days
	// SliceSize is how many settings reads one sweep slice enqueues (default 200), and
	// SliceEvery how long (on Now's clock) the next slice waits: set it to SliceSize
	// divided by the sweep lane's rate, so the lane's backlog stays about one slice.
	// Default: SliceSize / 25 per second (queues.yaml's groupssettings-sweep rate).
	SliceSize  int
	SliceEvery time.Duration
	// Quota and Queues, when both set, let a sweep slice see that the sweep lane's daily
	// budget is spent and wait for the quota reset instead of queueing reads the guard
	// would only refuse and reschedule (which would pile a whole sweep up at the reset).
	Quota  QuotaUsage
	Queues *queueconfig.Config
	// Notify posts notifications; nil builds one from Rules.NotifyURL.
	Notify *notify.Poster
	// TrustAppEngineHeaders is set on App Engine, where the platform strips task and cron
	// headers from outside requests.
	TrustAppEngineHeaders bool
	Logger                *zap.Logger
}

// QuotaUsage is the daily budget guard's view of today's counts (quota.Guard).
type QuotaUsage interface {
	Usage(ctx context.Context) (map[string]greep.QuotaUsage, error)
}

// Service runs the remediation tasks.
type Service struct {
	cfg    Config
	log    *zap.Logger
	sender *notify.Sender
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Mode == "" {
		cfg.Mode = cfg.Rules.Mode
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Days == nil {
		cfg.Days = quota.DefaultCalendar()
	}
	if cfg.SliceSize <= 0 {
		cfg.SliceSize = 200
	}
	if cfg.SliceEvery <= 0 {
		cfg.SliceEvery = time.Duration(float64(cfg.SliceSize) / 25 * float64(time.Second))
	}
	if cfg.Notify == nil && cfg.Rules.NotifyURL != "" {
		cfg.Notify = &notify.Poster{URL: cfg.Rules.NotifyURL}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Service{
		cfg:    cfg,
		log:    cfg.Logger,
		sender: &notify.Sender{Store: cfg.Store, Poster: cfg.Notify, Log: cfg.Logger},
	}
}

// FindingID is the deterministic id of the finding of (group, rule): a re-detection
// updates the same finding.
func FindingID(group, rule string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(group) + "\x00" + rule))
	return hex.EncodeToString(sum[:16])
}

// day is the patch-loop guard's day of t.
func (s *Service) day(t time.Time) string { d, _ := s.cfg.Days.Day(t); return d }
