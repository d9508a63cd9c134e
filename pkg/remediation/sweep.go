package remediation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/settingsworker"
	"github.com/greephq/greep/pkg/tasks"
)

// StateSweep is the StateStore document of the current (or last) settings sweep.
const StateSweep = "remediation/sweep"

// SweepState is the progress of a settings sweep, for /v1/status and the dashboard.
type SweepState struct {
	RunID      string    `json:"runId"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
	// Cap is the run's patch cap (the rules' runCap unless the sweep was started with
	// an override).
	Cap int `json:"cap"`
	// Enqueued counts the settings reads queued so far; Cursor is the groups page the
	// next slice reads.
	Enqueued int    `json:"enqueued"`
	Cursor   string `json:"cursor,omitempty"`
	Done     bool   `json:"done"`
}

// run is a run's patch ledger: the groups it patched, at most Cap of them.
type run struct {
	Cap     int      `json:"cap"`
	Patched []string `json:"patched"`
}

func runState(id string) string { return "remediation/run/" + id }

// pushRun is the run of push-driven evaluations: one per day, so a burst of unsafe
// changes is capped like a sweep.
func (s *Service) pushRun(now time.Time) string { return "push-" + s.day(now) }

type sliceBody struct {
	RunID     string `json:"runId"`
	PageToken string `json:"pageToken,omitempty"`
}

// StartSweep starts a settings sweep: every cached group's settings are read on the
// groupssettings-sweep lane, in slices, and evaluated as they arrive. capOverride > 0
// replaces the rules' runCap for this run (the documented override when a run stopped at
// its cap). A sweep still running is superseded: its remaining slices stop.
func (s *Service) StartSweep(ctx context.Context, capOverride int) (string, error) {
	now := s.cfg.Now()
	// The random part keeps two sweeps started within a second apart: a run's reads are
	// named after it, and a reused id would have them refused as duplicates.
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := "sweep-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(rnd[:])
	limit := s.cfg.Rules.RunCap
	if capOverride > 0 {
		limit = capOverride
	}
	if _, err := greep.UpdateStateJSON(ctx, s.cfg.Store, runState(id), func(r *run) error {
		r.Cap = limit
		return nil
	}); err != nil {
		return "", fmt.Errorf("sweep: %w", err)
	}
	if _, err := greep.UpdateStateJSON(ctx, s.cfg.Store, StateSweep, func(st *SweepState) error {
		*st = SweepState{RunID: id, StartedAt: now, Cap: limit}
		return nil
	}); err != nil {
		return "", fmt.Errorf("sweep: %w", err)
	}
	if err := s.enqueueSlice(ctx, sliceBody{RunID: id}, time.Time{}); err != nil {
		return "", err
	}
	s.log.Info("settings sweep started", zap.String("run", id), zap.Int("cap", limit))
	return id, nil
}

func (s *Service) enqueueSlice(ctx context.Context, b sliceBody, at time.Time) error {
	t, err := tasks.New(tasks.QueueRemediation, PathSweepSlice, tasks.Name(b.RunID, "slice", b.PageToken), b, at)
	if err != nil {
		return err
	}
	if err := s.cfg.Queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("sweep %s: queueing a slice: %w", b.RunID, err)
	}
	return nil
}

var errSuperseded = errors.New("superseded")

// sweepSlice queues the settings reads of one page of groups and, after the time the
// sweep lane needs to work through them, the next slice: the lane's backlog stays about
// one slice, so a 45,000-group sweep never sits in front of anything as one block, and
// the daily budget guard stops it at its fraction of the quota.
func (s *Service) sweepSlice(ctx context.Context, b sliceBody) error {
	var st SweepState
	if _, err := greep.LoadState(ctx, s.cfg.Store, StateSweep, &st); err != nil {
		return err
	}
	if st.RunID != b.RunID {
		s.log.Info("sweep slice of a superseded run dropped", zap.String("run", b.RunID))
		return nil
	}
	if resetAt, spent, err := s.sweepBudgetSpent(ctx); err != nil {
		return err
	} else if spent {
		s.log.Info("sweep lane's daily budget spent; the sweep waits for the quota reset", zap.String("run", b.RunID), zap.Time("resetAt", resetAt))
		return queue.RetryAfter(resetAt, "budget", nil)
	}
	groups, next, err := s.cfg.Store.Groups(ctx, greep.Page{Token: b.PageToken, Limit: s.cfg.SliceSize})
	if err != nil {
		return fmt.Errorf("sweep %s: listing groups: %w", b.RunID, err)
	}
	for _, g := range groups {
		t, err := tasks.New(tasks.QueueSettingsSweep, tasks.PathSettingsGet, tasks.Name(g.Email, "sweep", b.RunID),
			tasks.SettingsGet{Group: g.Email, Reason: settingsworker.SweepReason(b.RunID)}, time.Time{})
		if err != nil {
			return err
		}
		if err := s.cfg.Queue.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("sweep %s: queueing the read of %s: %w", b.RunID, g.Email, err)
		}
	}
	_, err = greep.UpdateStateJSON(ctx, s.cfg.Store, StateSweep, func(st *SweepState) error {
		if st.RunID != b.RunID {
			return errSuperseded
		}
		if st.Cursor == b.PageToken && !st.Done { // not a re-run of a slice already counted
			st.Enqueued += len(groups)
			st.Cursor = next
			if next == "" {
				st.Done, st.FinishedAt = true, s.cfg.Now()
			}
		}
		return nil
	})
	if errors.Is(err, errSuperseded) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep %s: %w", b.RunID, err)
	}
	if next == "" {
		s.log.Info("settings sweep fully queued", zap.String("run", b.RunID))
		return nil
	}
	return s.enqueueSlice(ctx, sliceBody{RunID: b.RunID, PageToken: next}, s.cfg.Now().Add(s.cfg.SliceEvery))
}

// sweepBudgetSpent reports whether the sweep lane cannot take another slice today: its
// API's count plus a slice would pass the lane's daily cap.
func (s *Service) sweepBudgetSpent(ctx context.Context) (time.Time, bool, error) {
	if s.cfg.Quota == nil || s.cfg.Queues == nil {
		return time.Time{}, false, nil
	}
	l, ok := s.cfg.Queues.Lane(tasks.QueueSettingsSweep)
	if !ok || l.DailyCap() == 0 {
		return time.Time{}, false, nil
	}
	usage, err := s.cfg.Quota.Usage(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sweep: reading the quota count: %w", err)
	}
	u := usage[l.API]
	return u.ResetAt, u.UsedToday+int64(s.cfg.SliceSize) > l.DailyCap(), nil
}

var (
	errCapped   = errors.New("run cap reached")
	errReserved = errors.New("already reserved")
)

// reserve takes one of the run's patch slots for group (idempotent: a group holds at most
// one). It reports false, with the finding detail to show, when the run's cap is reached.
func (s *Service) reserve(ctx context.Context, runID, group string, now time.Time) (bool, string, error) {
	if runID == "" {
		runID = s.pushRun(now)
	}
	var used, limit int
	_, err := greep.UpdateStateJSON(ctx, s.cfg.Store, runState(runID), func(r *run) error {
		if r.Cap <= 0 {
			r.Cap = s.cfg.Rules.RunCap
		}
		if slices.Contains(r.Patched, group) {
			return errReserved
		}
		if len(r.Patched) >= r.Cap {
			used, limit = len(r.Patched), r.Cap
			return errCapped
		}
		r.Patched = append(r.Patched, group)
		return nil
	})
	switch {
	case err == nil, errors.Is(err, errReserved):
		return true, "", nil
	case errors.Is(err, errCapped):
		return false, fmt.Sprintf("run cap reached: run %s already patched %d groups (cap %d), so this one was not; override with runCap in the rules file, or start a sweep with a higher cap: GET %s?cap=N",
			runID, used, limit, PathCronSweep), nil
	}
	return false, "", fmt.Errorf("run %s: reserving a patch: %w", runID, err)
}
