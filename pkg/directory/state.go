package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	kindRun   = "directory-run" // multi-page member runs already swapped in
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

// Sweep returns the current sweep's state (zero when none ever ran).
//
// A member run reads it twice, and it changes a few times a sweep: the document is
// decoded again only when its bytes differ from the last decoded (the decoding was 2% of
// an origin sync's CPU). The store stays the one place the state is kept.
func (w *Worker) Sweep(ctx context.Context) (Sweep, error) {
	b, err := w.cfg.Store.State(ctx, stateSweep)
	if d := w.sweep.Load(); err == nil && d != nil && bytes.Equal(d.raw, b) {
		return d.s, nil
	}
	s, err := decodeSweep(b, err)
	if err == nil && b != nil {
		w.sweep.Store(&decodedSweep{raw: b, s: s})
	}
	return s, err
}

// decodedSweep is a sweep's state and the document it was decoded from.
type decodedSweep struct {
	raw []byte
	s   Sweep
}

// LoadSweep reads the current sweep's state from store, for readers without a worker
// (the alerts).
func LoadSweep(ctx context.Context, store greep.StateStore) (Sweep, error) {
	return decodeSweep(store.State(ctx, stateSweep))
}

// decodeSweep decodes the sweep's state as the store returned it: no document is no
// sweep yet.
func decodeSweep(b []byte, err error) (Sweep, error) {
	var s Sweep
	if errors.Is(err, greep.ErrNotFound) {
		return s, nil
	}
	if err == nil {
		if jerr := json.Unmarshal(b, &s); jerr != nil {
			err = greep.Errorf(greep.EINTERNAL, "state %q: %v", stateSweep, jerr)
		}
	}
	if err != nil {
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
	err = w.counts(ctx, s.Generation, map[string]*int64{"total": &p.Total, "done": &p.Done, "calls": &p.Calls})
	return p, s, err
}

// counts reads the named counters of sweep gen into their destinations.
func (w *Worker) counts(ctx context.Context, gen int64, dst map[string]*int64) error {
	for name, d := range dst {
		n, err := w.cfg.Store.Count(ctx, counter(gen, name))
		if err != nil {
			return fmt.Errorf("directory: progress: %w", err)
		}
		*d = n
	}
	return nil
}

// once creates a marker record and reports whether this call created it: the guard that
// keeps a task run twice from counting twice.
func (w *Worker) once(ctx context.Context, kind, id string, data []byte) (bool, error) {
	err := w.cfg.Store.CreateRecord(ctx, kind, id, data)
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
	deferred, first, err := w.mark(ctx, gen, kindDone, markerID(gen, groupID), []byte("1"), counter(gen, "done"), 1)
	if err != nil || deferred || !first {
		return err
	}
	return w.maybeFinish(ctx, gen)
}

// addCount adds delta to a counter whose marker was just created; when the count fails
// the marker is dropped again, so the retry counts. (A process killed between the two is
// put right by Resume, which recounts from the markers.)
func (w *Worker) addCount(ctx context.Context, name string, delta int64, markerKind, markerID string) error {
	if _, err := w.cfg.Store.AddCount(ctx, name, delta); err != nil {
		if derr := w.cfg.Store.DeleteRecord(context.WithoutCancel(ctx), markerKind, markerID); derr != nil {
			w.log.Error("a count failed and its marker stays: the sweep needs a restart to recount", zap.String("marker", markerID), zap.Error(derr))
		}
		return err
	}
	return nil
}

// Resume puts the running sweep's counters right after a restart: a process killed
// between writing a marker and counting it leaves the count short, which would keep the
// sweep from ever finishing. The markers are the truth; the counters are recounted from
// them. Call it before the dispatcher starts.
func (w *Worker) Resume(ctx context.Context) error {
	s, err := w.Sweep(ctx)
	if err != nil || !s.Running() {
		return err
	}
	if _, err := w.recount(ctx, s.Generation); err != nil {
		return err
	}
	return w.maybeFinish(ctx, s.Generation)
}

// sweepMarkers is what the markers of a sweep say: its pages read (by page token) and its
// groups done.
type sweepMarkers struct {
	pages map[string]pageMarker
	done  map[string]bool
}

// recount sets sweep gen's counters to what its markers say, and returns the markers.
func (w *Worker) recount(ctx context.Context, gen int64) (sweepMarkers, error) {
	prefix := markerID(gen, "")
	m := sweepMarkers{pages: map[string]pageMarker{}, done: map[string]bool{}}
	err := w.cfg.Store.Records(ctx, kindDone, func(id string, _ []byte) error {
		if group, ok := strings.CutPrefix(id, prefix); ok {
			m.done[group] = true
		}
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("directory: recounting the sweep: %w", err)
	}
	var total int64
	err = w.cfg.Store.Records(ctx, kindPage, func(id string, data []byte) error {
		token, ok := strings.CutPrefix(id, prefix+"groups/")
		if !ok {
			return nil
		}
		pm, err := parsePageMarker(data)
		if err != nil {
			return fmt.Errorf("page marker %s: %w", id, err)
		}
		m.pages[token] = pm
		total += int64(pm.Count)
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("directory: recounting the sweep: %w", err)
	}
	for name, want := range map[string]int64{"done": int64(len(m.done)), "total": total} {
		have, err := w.cfg.Store.Count(ctx, counter(gen, name))
		if err != nil {
			return m, fmt.Errorf("directory: recounting the sweep: %w", err)
		}
		if have != want {
			w.log.Info("sweep counter recounted", zap.String("counter", name), zap.Int64("was", have), zap.Int64("is", want))
			if _, err := w.cfg.Store.AddCount(ctx, counter(gen, name), want-have); err != nil {
				return m, fmt.Errorf("directory: recounting the sweep: %w", err)
			}
		}
	}
	return m, nil
}

// maybeFinish enqueues the finish task once the listing is complete and every group done.
// It runs after every group a sweep finishes, so it reads only what that decision needs:
// the sweep's state, and its total and done counts only once the listing is complete (on
// Datastore a count is 16 entity reads; Progress would read three).
func (w *Worker) maybeFinish(ctx context.Context, gen int64) error {
	w.publish(ctx, false)
	s, err := w.Sweep(ctx)
	if err != nil || s.Generation != gen || !s.Running() || !s.ListingDone {
		return err
	}
	p := syncplan.Progress{ListingDone: true}
	if err := w.counts(ctx, gen, map[string]*int64{"total": &p.Total, "done": &p.Done}); err != nil || !p.Finished() {
		return err
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
	_, err = greep.UpdateStateJSON(ctx, w.cfg.Store, greep.StateSync, func(st *greep.SyncState) error {
		st.Generation = s.Generation
		st.StartedAt = s.StartedAt
		st.GroupsTotal, st.GroupsDone, st.ListingDone = p.Total, p.Done, p.ListingDone
		st.Calls = p.Calls
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
