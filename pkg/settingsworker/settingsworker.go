// Package settingsworker is the groupssettings service's task handlers: the only code that
// calls the Groups Settings API. A get task reads one group's settings, stores them and
// asks the remediation service to evaluate them; a patch task sends one patch (one valid
// combination, planned by pkg/rules), stores the result and marks the findings it fixes.
// Each task makes exactly one API call and is safe to run twice.
package settingsworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/api/groupssettings/v1"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// Store is what the worker needs of the cache.
type Store interface {
	PutSettings(ctx context.Context, s greep.GroupSettings) error
	Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error)
	Finding(ctx context.Context, id string) (greep.Finding, error)
	UpdateFinding(ctx context.Context, id string, fn func(f *greep.Finding) error) (greep.Finding, error)
	// The provisional settings a notification announced (pkg/provisional) are settled by
	// each read.
	greep.StateStore
}

// Policy decides, when a patch is about to be sent, whether the rules, the mode and the
// exemptions in force ask for that very change: the task path alone is not trusted.
type Policy interface {
	// Allow returns why the patch may not be sent, "" when it may; an error when it
	// could not tell.
	Allow(ctx context.Context, group string, patch map[string]string) (refused string, err error)
}

// Config wires a Worker.
type Config struct {
	Store    Store
	Settings *groupssettings.Service
	Queue    queue.Enqueuer
	// Policy re-checks every patch just before it is sent (remediation.PatchCheck);
	// without one no patch is sent.
	Policy Policy
	// Now is the process's one clock (the runtime's): stored settings and findings are
	// stamped with it, tasks scheduled by it. Default time.Now.
	Now func() time.Time
	// Quota is the daily budget guard, the only source of quota days and reset times.
	// Default: queues.yaml's default zone (quota.DefaultCalendar).
	Quota quota.Days
	// TrustAppEngineHeaders is set on App Engine, where the platform strips task headers
	// from outside requests.
	TrustAppEngineHeaders bool
	Logger                *zap.Logger
	// Repoll paces the re-reads of a group whose read does not show yet a setting a
	// notification announced (Google's reads lag its writes). Default
	// syncplan.DefaultRepoll, as the directory worker's refreshes.
	Repoll syncplan.Repoll
}

// Worker runs the groupssettings tasks.
type Worker struct {
	cfg      Config
	log      *zap.Logger
	runner   queue.Runner
	classify syncplan.Classifier
}

// New returns a Worker.
func New(cfg Config) *Worker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Quota == nil {
		cfg.Quota = quota.DefaultCalendar()
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Repoll.Attempts == 0 {
		cfg.Repoll = syncplan.DefaultRepoll
	}
	return &Worker{
		cfg:      cfg,
		log:      cfg.Logger,
		runner:   queue.Runner{Queue: cfg.Queue, Log: cfg.Logger},
		classify: quota.Classifier(cfg.Quota),
	}
}

// get reads one group's settings (one API call), stores them, and queues their evaluation.
func (w *Worker) get(ctx context.Context, run queue.Run, b tasks.SettingsGet) error {
	email := strings.ToLower(strings.TrimSpace(b.Group))
	if email == "" {
		return greep.Errorf(greep.EINVALID, "settings get: no group")
	}
	// A read is as old as its request, not its answer: a patch stored while this read was
	// in flight is newer, and storing the read over it would undo the patch in the cache,
	// reopen the fixed finding and patch the group a second time. PutSettings keeps the
	// later of the two in one transaction.
	now := w.cfg.Now()
	g, err := w.cfg.Settings.Groups.Get(email).Context(ctx).Do()
	if err != nil {
		settled, err := w.callFailed(err)
		if settled {
			w.log.Warn("settings read failed; not retried", zap.String("group", email), zap.Error(err))
			return nil
		}
		return err
	}
	read := ToSettings(g)
	err = w.cfg.Store.PutSettings(ctx, greep.GroupSettings{GroupEmail: email, Settings: read, ReadAt: now})
	if errors.Is(err, greep.ErrConflict) {
		w.log.Info("settings read overtaken by a later one; dropped", zap.String("group", email))
		return nil
	}
	if err != nil {
		return fmt.Errorf("settings get %s: storing: %w", email, err)
	}
	// Settled before the evaluation is queued, so it judges what is left provisional.
	if err := w.settle(ctx, b, email, read, now); err != nil {
		return err
	}
	// Named after the read, so a re-run of this task after the enqueue evaluates once;
	// a later read evaluates again.
	t, err := tasks.New(tasks.QueueRemediation, tasks.PathRemediationEvaluate,
		tasks.Name(email, "evaluate", now.UTC().Format(time.RFC3339Nano)),
		tasks.Evaluate{Group: email, RunID: RunOf(b.Reason)}, time.Time{})
	if err != nil {
		return err
	}
	if err := w.cfg.Queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("settings get %s: queueing the evaluation: %w", email, err)
	}
	return nil
}

// patch sends one patch (one API call), stores the settings Google answers with, and
// marks the findings the patch was for fixed, or failed when Google refuses it.
func (w *Worker) patch(ctx context.Context, run queue.Run, b tasks.SettingsPatch) error {
	email := strings.ToLower(strings.TrimSpace(b.Group))
	if email == "" || len(b.Patch) == 0 {
		return greep.Errorf(greep.EINVALID, "settings patch: a group and at least one field are needed")
	}
	if refused, err := w.allow(ctx, email, b.Patch); err != nil {
		return err
	} else if refused != "" {
		w.log.Warn("settings patch refused: the rules in force do not ask for it", zap.String("group", email), zap.Any("patch", b.Patch),
			zap.String("run", b.RunID), zap.String("reason", refused))
		return queue.Terminal(fmt.Errorf("settings patch %s refused: %s", email, refused))
	}
	body, err := ToGroups(b.Patch)
	if err != nil {
		// Never sent: a patch Greep itself could not express is a bug to see, not retry.
		return w.markFailed(ctx, b, "patch not sent: "+err.Error())
	}
	g, err := w.cfg.Settings.Groups.Patch(email, body).Context(ctx).Do()
	if err != nil {
		settled, err := w.callFailed(err)
		if !settled {
			return err // retried, or rescheduled after the quota reset: findings stay queued
		}
		return w.markFailed(ctx, b, "patch refused: "+googleMessage(err))
	}
	now := w.cfg.Now()
	after := ToSettings(g)
	// A conflict is a read requested after this answer, already stored: it is as new as
	// the patch's result or newer, and its evaluation judges the group.
	if err := w.cfg.Store.PutSettings(ctx, greep.GroupSettings{GroupEmail: email, Settings: after, ReadAt: now}); err != nil && !errors.Is(err, greep.ErrConflict) {
		return fmt.Errorf("settings patch %s: storing the result: %w", email, err)
	}
	w.log.Info("settings patched", zap.String("group", email), zap.Any("patch", b.Patch), zap.String("run", b.RunID))
	for _, id := range b.Findings {
		f, err := w.cfg.Store.UpdateFinding(ctx, id, func(f *greep.Finding) error {
			if f.ID == "" {
				return errSkip
			}
			if f.State == greep.FindingFixed && f.After == after[f.Field] {
				return errSkip // already recorded (a re-run of this task)
			}
			f.After, f.LastSeen, f.SettingsReadAt = after[f.Field], now, now
			if want := b.Patch[f.Field]; want != "" && after[f.Field] != want {
				f.State = greep.FindingFailed
				f.Detail = fmt.Sprintf("patched %s to %s, but the API answers %s", f.Field, want, after[f.Field])
				return nil
			}
			f.State = greep.FindingFixed
			f.Detail = "fixed by Greep: patched " + patchText(b.Patch)
			return nil
		})
		if errors.Is(err, errSkip) {
			f, err = w.cfg.Store.Finding(ctx, id)
			if errors.Is(err, greep.ErrNotFound) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("settings patch %s: finding %s: %w", email, id, err)
		}
		// Also on a re-run: the announcement may be what the first run failed to queue.
		if notify.Due(f, true) {
			if err := notify.Enqueue(ctx, w.cfg.Queue, f); err != nil {
				return err
			}
		}
	}
	return nil
}

var errSkip = errors.New("skip")

func (w *Worker) allow(ctx context.Context, group string, patch map[string]string) (string, error) {
	if w.cfg.Policy == nil {
		return "the groupssettings worker has no patch policy", nil
	}
	return w.cfg.Policy.Allow(ctx, group, patch)
}

// markFailed records a patch that cannot succeed on the findings it was for.
func (w *Worker) markFailed(ctx context.Context, b tasks.SettingsPatch, detail string) error {
	w.log.Error("settings patch failed", zap.String("group", b.Group), zap.Any("patch", b.Patch), zap.String("detail", detail))
	now := w.cfg.Now()
	for _, id := range b.Findings {
		f, err := w.cfg.Store.UpdateFinding(ctx, id, func(f *greep.Finding) error {
			if f.ID == "" || f.State == greep.FindingFixed {
				return errSkip
			}
			f.State, f.Detail, f.LastSeen = greep.FindingFailed, detail, now
			return nil
		})
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return fmt.Errorf("settings patch %s: finding %s: %w", b.Group, id, err)
		}
		if notify.Due(f, false) {
			if err := notify.Enqueue(ctx, w.cfg.Queue, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// callFailed decides what a failed call means for the task. settled is true when retrying
// cannot help (the group is gone, or Google refuses the request); otherwise err is for the
// queue layer to carry out: a run after the quota reset, or a *queue.RetryError.
func (w *Worker) callFailed(callErr error) (settled bool, err error) {
	v := w.classify.Classify(callErr, w.cfg.Now())
	switch v.Action {
	case syncplan.Gone, syncplan.Fail:
		return true, callErr
	case syncplan.Reschedule:
		return false, queue.RetryAfter(v.ResetAt, v.Reason, callErr)
	default:
		return false, &queue.RetryError{Status: retryStatus(v.Status), Reason: v.Reason, Err: callErr}
	}
}

func retryStatus(s int) int {
	if s == 0 {
		return http.StatusServiceUnavailable
	}
	return s
}

// ToSettings flattens the API's Groups resource into the store's map of string fields
// (every Groups Settings value is a string; the deprecated integer maxMessageBytes and the
// resource's kind and email are left out).
func ToSettings(g *groupssettings.Groups) greep.Settings {
	b, _ := json.Marshal(g)
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	out := make(greep.Settings, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok && k != "kind" && k != "email" {
			out[k] = s
		}
	}
	return out
}

// ToGroups builds the PATCH body from field values, refusing fields Greep does not know,
// so a typo can never be sent as a silently ignored JSON key.
func ToGroups(patch map[string]string) (*groupssettings.Groups, error) {
	for k, v := range patch {
		if err := rules.CheckValue(k, v); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	var g groupssettings.Groups
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("patch body: %w", err)
	}
	return &g, nil
}

func patchText(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + p[k]
	}
	return strings.Join(keys, ", ")
}
