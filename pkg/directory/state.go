package directory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
)

// stateSweep names the worker's own bookkeeping document: which sweep runs and whether its
// listing is complete. Readers look at greep.StateSync instead, which publish keeps current.
const stateSweep = "directory-sweep"

// Record kinds: markers that make counting idempotent when a task runs twice, and staged
// member pages of groups larger than one page.
const (
	kindPage  = "directory-page"
	kindDone  = "directory-done"
	kindStage = "directory-stage"
)

// Sweep is the state of the current (or last) sweep.
type Sweep struct {
	Generation  int64     `json:"generation"`
	Mode        string    `json:"mode"`
	StartedAt   time.Time `json:"startedAt"`
	ListingDone bool      `json:"listingDone"`
	FinishedAt  time.Time `json:"finishedAt,omitempty"`
}

// Running reports whether the sweep is under way.
func (s Sweep) Running() bool { return s.Generation > 0 && s.FinishedAt.IsZero() }

func counter(gen int64, what string) string {
	return "directory/sweep/" + strconv.FormatInt(gen, 10) + "/" + what
}

const callsCounter = "directory/calls"

// Sweep returns the current sweep's state (zero when none ever ran).
func (w *Worker) Sweep(ctx context.Context) (Sweep, error) {
	var s Sweep
	if _, err := greep.LoadState(ctx, w.cfg.Store, stateSweep, &s); err != nil {
		return Sweep{}, fmt.Errorf("directory: sweep state: %w", err)
	}
	return s, nil
}

// Progress returns how far the current sweep has come, on the worker's clock.
func (w *Worker) Progress(ctx context.Context) (syncplan.Progress, Sweep, error) {
	s, err := w.Sweep(ctx)
	if err != nil || s.Generation == 0 {
		return syncplan.Progress{}, s, err
	}
	p := syncplan.Progress{ListingDone: s.ListingDone, Started: s.StartedAt, Now: w.cfg.Now()}
	if !s.FinishedAt.IsZero() {
		p.Now = s.FinishedAt
	}
	for name, dst := range map[string]*int64{"total": &p.Total, "done": &p.Done, "calls": &p.Calls} {
		if *dst, err = w.cfg.Store.Count(ctx, counter(s.Generation, name)); err != nil {
			return p, s, fmt.Errorf("directory: progress: %w", err)
		}
	}
	return p, s, nil
}

// countCall records one Directory call, for the sweep (gen > 0) and in total.
func (w *Worker) countCall(ctx context.Context, gen int64) {
	if gen > 0 {
		if _, err := w.cfg.Store.AddCount(ctx, counter(gen, "calls"), 1); err != nil {
			w.log.Warn("counting a call", zap.Error(err))
		}
	}
	if _, err := w.cfg.Store.AddCount(ctx, callsCounter, 1); err != nil {
		w.log.Warn("counting a call", zap.Error(err))
	}
}

// once creates a marker record and reports whether this call created it: the guard that
// keeps a task run twice from counting twice.
func (w *Worker) once(ctx context.Context, kind, id string) (bool, error) {
	err := w.cfg.Store.CreateRecord(ctx, kind, id, []byte("1"))
	if errors.Is(err, greep.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("marker %s/%s: %w", kind, id, err)
	}
	return true, nil
}

func markerID(gen int64, id string) string { return strconv.FormatInt(gen, 10) + "/" + id }

// groupDone counts a group of sweep gen as done (once), and closes the sweep when it was
// the last.
func (w *Worker) groupDone(ctx context.Context, gen int64, groupID string) error {
	first, err := w.once(ctx, kindDone, markerID(gen, groupID))
	if err != nil || !first {
		return err
	}
	if _, err := w.cfg.Store.AddCount(ctx, counter(gen, "done"), 1); err != nil {
		return fmt.Errorf("counting group %s done: %w", groupID, err)
	}
	return w.maybeFinish(ctx, gen)
}

// maybeFinish enqueues the finish task once the listing is complete and every group done.
func (w *Worker) maybeFinish(ctx context.Context, gen int64) error {
	p, s, err := w.Progress(ctx)
	if err != nil {
		return err
	}
	w.publish(ctx, false)
	if s.Generation != gen || !s.FinishedAt.IsZero() || !p.Finished() {
		return nil
	}
	return w.enqueue(ctx, w.cfg.SweepQueue, PathFinish, syncplan.FinishName(gen), Finish{Generation: gen}, time.Time{})
}

// publisher throttles writes of the status document.
type publisher struct {
	mu   sync.Mutex
	last time.Time
}

// publish mirrors the sweep's progress into greep.StateSync for the read API and the
// terminal. Progress is written at most every PublishEvery unless force is set (phase
// changes), so a fast sweep does not turn into a write per task on one document.
func (w *Worker) publish(ctx context.Context, force bool) {
	w.pub.mu.Lock()
	if !force && time.Since(w.pub.last) < w.cfg.PublishEvery {
		w.pub.mu.Unlock()
		return
	}
	w.pub.last = time.Now()
	w.pub.mu.Unlock()

	p, s, err := w.Progress(ctx)
	if err != nil {
		w.log.Warn("publishing progress", zap.Error(err))
		return
	}
	calls, _ := w.cfg.Store.Count(ctx, callsCounter)
	_, err = greep.UpdateStateJSON(ctx, w.cfg.Store, greep.StateSync, func(st *greep.SyncState) error {
		st.Generation = s.Generation
		st.StartedAt = s.StartedAt
		st.GroupsTotal, st.GroupsDone = p.Total, p.Done
		st.Calls = calls
		st.State = "idle"
		if s.Running() {
			st.State = s.Mode
		}
		return nil
	})
	if err != nil {
		w.log.Warn("publishing progress", zap.Error(err))
	}
}

// maxRecorded bounds the failure and discrepancy lists of the status document.
const maxRecorded = 100

func (w *Worker) recordFailure(ctx context.Context, group string, cause error, discrepancy bool) {
	f := greep.SyncFailure{Group: group, Error: cause.Error(), At: w.cfg.Now()}
	_, err := greep.UpdateStateJSON(ctx, w.cfg.Store, greep.StateSync, func(st *greep.SyncState) error {
		list := &st.Failures
		if discrepancy {
			list = &st.Discrepancies
		}
		*list = append(*list, f)
		if len(*list) > maxRecorded {
			*list = (*list)[len(*list)-maxRecorded:]
		}
		return nil
	})
	if err != nil {
		w.log.Warn("recording a failure", zap.String("group", group), zap.Error(err))
	}
}
