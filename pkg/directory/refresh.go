package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// refresh re-reads one group (groups.get), then its members in follow-up tasks on the same
// lane, and checks the result against what the push event announced.
func (w *Worker) refresh(ctx context.Context, run queue.Run, t tasks.Refresh) error {
	if t.Group == "" {
		return greep.Errorf(greep.EINVALID, "invalid task: a refresh needs a group")
	}
	ctx = w.pushCause(ctx, t)
	res, err := w.cfg.Directory.Groups.Get(t.Group).Context(ctx).Do()
	w.countCall(ctx, 0)
	if err != nil {
		out, err := w.callFailed(ctx, t.Group, err)
		if err != nil || out != gone {
			return err
		}
		return w.groupGone(ctx, t.Group)
	}
	g := fromGroup(res, w.cfg.Now())
	// Keep the group in the running sweep's generation, so a sweep whose listing passed
	// before the group appeared does not remove it.
	s, err := w.Sweep(ctx)
	if err != nil {
		return err
	}
	g.Generation = s.Generation
	if c, err := w.cfg.Store.Group(ctx, g.ID); err == nil && c.Generation > g.Generation {
		g.Generation = c.Generation
	}
	if err := w.cfg.Store.PutGroups(ctx, []greep.Group{g}); err != nil {
		return fmt.Errorf("storing group %s: %w", g.Email, err)
	}
	if !syncplan.NeedsMembers(g) {
		now := w.cfg.Now()
		lagging, err := w.storeRead(ctx, g, nil, now, w.lastPoll(&t))
		if err != nil {
			return err
		}
		if err := w.judge(ctx, g, now); err != nil {
			return err
		}
		return w.checkExpectations(ctx, t, g, nil, lagging)
	}
	runID, err := newRunID()
	if err != nil {
		return err
	}
	mp := MembersPage{Run: runID, Group: g, Refresh: &t}
	return w.enqueue(ctx, run.QueueOr(w.cfg.PushQueue), PathMembersPage, syncplan.MembersPageName(runID, ""), mp, time.Time{})
}

// groupGone drops a group Google no longer knows.
func (w *Worker) groupGone(ctx context.Context, key string) error {
	c, err := w.cfg.Store.Group(ctx, key)
	if errors.Is(err, greep.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding deleted group %s: %w", key, err)
	}
	if err := w.cfg.Store.DeleteGroup(ctx, c.ID); err != nil {
		return fmt.Errorf("removing deleted group %s: %w", key, err)
	}
	w.log.Info("group deleted", zap.String("group", c.Email))
	return nil
}

// checkExpectations re-polls a refresh whose snapshot does not show yet what the push event
// announced or a provisional change applied before the read (Google's reads lag its
// writes), with backoff, and records a discrepancy when the re-polls run out.
func (w *Worker) checkExpectations(ctx context.Context, t tasks.Refresh, g greep.Group, members []greep.Member, lagging []provisional.Mark) error {
	unmet := syncplan.Unmet(t.Expect, members)
	for _, m := range lagging {
		unmet = append(unmet, m.Expectation())
	}
	if len(unmet) == 0 {
		w.observeFreshness(t)
		return nil
	}
	delay, ok := w.cfg.Repoll.Next(t.Attempt)
	if !ok {
		w.recordFailure(ctx, g.Email, fmt.Errorf("after %d re-polls the group still does not show %d announced change(s), first %+v", t.Attempt, len(unmet), unmet[0]), true)
		return nil
	}
	next := t
	next.Attempt = t.Attempt + 1
	name := tasks.Name("repoll", g.ID, t.Reason, strconv.Itoa(next.Attempt))
	return w.enqueue(ctx, w.cfg.PushQueue, tasks.PathDirectoryRefresh, name, next, w.cfg.Now().Add(delay))
}

// lastPoll reports whether the read of refresh t (nil: a sweep's read) is its last
// re-poll: a provisional change the read still contradicts is then dropped.
func (w *Worker) lastPoll(t *tasks.Refresh) bool {
	if t == nil {
		return false
	}
	_, more := w.cfg.Repoll.Next(t.Attempt)
	return !more
}

func (w *Worker) observeFreshness(t tasks.Refresh) {
	if w.cfg.Freshness == nil {
		return
	}
	now := w.cfg.Now()
	if !t.NotifiedAt.IsZero() {
		w.cfg.Freshness.ObserveFreshness("notification_to_visible", now.Sub(t.NotifiedAt))
	}
	if !t.ChangedAt.IsZero() {
		w.cfg.Freshness.ObserveFreshness("change_to_confirmed", now.Sub(t.ChangedAt))
	}
}

func newRunID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return "r" + hex.EncodeToString(b[:]), nil
}
