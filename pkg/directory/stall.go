package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
)

// kindTick keeps what the previous cron tick saw of a running sweep ("last"), and until
// when the sweep's tasks wait for a quota reset ("wait").
const kindTick = "directory-tick"

// resumeIfStalled recovers a running sweep when nothing of it moved since the previous
// tick. A whole cron period without a count or a call means no task of the sweep is in
// flight or retrying, whichever instance would run it: either a count was lost (an
// instance stopped between a group's marker and its count) or tasks were (an instance
// stopped between a page's marker and its enqueues, tasks dropped by the queue). Both
// would keep the sweep open for good. The one exception is work waiting for the quota
// reset: that sweep is recounted but not re-issued, or the reset would run every wait
// twice. greep local also recounts at start, before its dispatcher runs any task.
func (w *Worker) resumeIfStalled(ctx context.Context) error {
	p, s, err := w.Progress(ctx)
	if err != nil || !s.Running() {
		return err
	}
	seen := fmt.Sprintf("%d/%d/%d/%d/%t", s.Generation, p.Done, p.Total, p.Calls, p.ListingDone)
	var last string
	var waitUntil time.Time
	if err := w.cfg.Store.Records(ctx, kindTick, func(id string, data []byte) error {
		switch id {
		case "last":
			last = string(data)
		case "wait":
			// Unreadable means no wait known: recovering costs calls, never the sweep.
			_ = waitUntil.UnmarshalText(data)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("directory: reading the last tick: %w", err)
	}
	if err := w.cfg.Store.PutRecord(ctx, kindTick, "last", []byte(seen)); err != nil {
		return fmt.Errorf("directory: recording the tick: %w", err)
	}
	if last != seen {
		return nil
	}
	if w.cfg.Now().Before(waitUntil) {
		w.log.Info("the sweep has not moved since the last tick and waits for the quota reset; recounting it", zap.Int64("generation", s.Generation), zap.Time("reset", waitUntil))
		return w.Resume(ctx)
	}
	w.log.Info("the sweep has not moved since the last tick; recounting it and re-issuing its lost work", zap.Int64("generation", s.Generation), zap.Int64("done", p.Done), zap.Int64("total", p.Total))
	return w.reissue(ctx, s)
}

// waitForReset records that a task waits for the quota reset at resetAt, so a tick in the
// meantime does not take the quiet for lost work. One write per reset and process.
func (w *Worker) waitForReset(ctx context.Context, resetAt time.Time) {
	if w.waited.Swap(resetAt.UnixNano()) == resetAt.UnixNano() {
		return
	}
	data, err := resetAt.MarshalText()
	if err == nil {
		err = w.cfg.Store.PutRecord(ctx, kindTick, "wait", data)
	}
	if err != nil {
		w.waited.Store(0)
		w.log.Warn("recording the wait for the quota reset", zap.Error(err))
	}
}

// reissue recounts a stalled sweep from its markers and queues again what they show lost:
// the page after the last one read (or closes the listing when its last page's marker is
// in), the member read of every group counted into the total without a done marker, and
// the finish when nothing is left. The copies carry the recovery's round in their names:
// Cloud Tasks refuses a name for hours after its task ran or was deleted, and a copy lost
// in turn is queued again by the next stall's round. A copy that runs after all (a lost
// task turning up) counts nothing twice: the done markers hold.
func (w *Worker) reissue(ctx context.Context, s Sweep) error {
	gen := s.Generation
	m, err := w.recount(ctx, gen)
	if err != nil {
		return err
	}
	round, err := w.cfg.Store.AddCount(ctx, counter(gen, "stalls"), 1)
	if err != nil {
		return fmt.Errorf("directory: counting the stall: %w", err)
	}
	ctx = w.sweepCause(ctx, s.Mode)
	if !s.ListingDone {
		if err := w.reissueListing(ctx, s, m, round); err != nil {
			return err
		}
	}
	lost := 0
	for _, pm := range m.pages {
		for _, id := range pm.Groups {
			if m.done[id] {
				continue
			}
			lost++
			if err := w.reissueGroup(ctx, gen, id, round); err != nil {
				return err
			}
		}
	}
	w.log.Info("stalled sweep re-issued", zap.Int64("generation", gen), zap.Int64("round", round), zap.Int("groups", lost))
	p, cur, err := w.Progress(ctx)
	if err != nil {
		return err
	}
	w.publish(ctx, true)
	if cur.Generation != gen || !cur.Running() || !p.Finished() {
		return nil
	}
	// The finish itself may be what was lost; its own name is spent.
	return w.enqueue(ctx, w.cfg.SweepQueue, PathFinish, syncplan.Reissued(syncplan.FinishName(gen), round), Finish{Generation: gen}, time.Time{})
}

// reissueListing queues again every page a read page names as next but that has no marker
// (the first page when none was read), or marks the listing done when its last page was
// read and the task stopped before saying so.
func (w *Worker) reissueListing(ctx context.Context, s Sweep, m sweepMarkers, round int64) error {
	want := []string{""}
	for _, pm := range m.pages {
		if pm.Last {
			return w.listingDone(ctx, s.Generation)
		}
		if pm.Next != "" {
			want = append(want, pm.Next)
		}
	}
	for _, token := range want {
		if _, read := m.pages[token]; read {
			continue
		}
		w.log.Info("re-issuing a lost groups.list page", zap.Int64("generation", s.Generation), zap.String("pageToken", token))
		next := GroupsPage{Generation: s.Generation, Mode: s.Mode, PageToken: token}
		name := syncplan.Reissued(syncplan.GroupsPageName(s.Generation, token), round)
		if err := w.enqueue(ctx, w.cfg.SweepQueue, PathGroupsPage, name, next, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// listingDone records that sweep gen has read its last groups.list page.
func (w *Worker) listingDone(ctx context.Context, gen int64) error {
	if _, err := greep.UpdateStateJSON(ctx, w.cfg.Store, stateSweep, func(s *Sweep) error {
		if s.Generation == gen {
			s.ListingDone = true
		}
		return nil
	}); err != nil {
		return fmt.Errorf("marking the listing done: %w", err)
	}
	w.publish(ctx, true)
	return nil
}

// reissueGroup reads a group of sweep gen whose member read was lost again, as its page
// would have: an empty group's snapshot is known without a call, a group gone from the
// cache since (a refresh saw it deleted) needs no read at all.
func (w *Worker) reissueGroup(ctx context.Context, gen int64, id string, round int64) error {
	g, err := w.cfg.Store.Group(ctx, id)
	if errors.Is(err, greep.ErrNotFound) {
		return w.groupDone(ctx, gen, id)
	}
	if err != nil {
		return fmt.Errorf("reading cached group %s: %w", id, err)
	}
	g.Generation = gen
	if !syncplan.NeedsMembers(g) {
		if err := w.cfg.Store.ReplaceMembers(ctx, g.ID, nil, g.ETag, w.cfg.Now()); err != nil {
			return fmt.Errorf("storing empty group %s: %w", g.Email, err)
		}
		return w.groupDone(ctx, gen, g.ID)
	}
	mp := MembersPage{Run: syncplan.ReissuedRun(gen, g.ID, round), Group: runGroup(g), Generation: gen}
	return w.enqueue(ctx, w.cfg.SweepQueue, PathMembersPage, syncplan.MembersPageName(mp.Run, ""), mp, time.Time{})
}
