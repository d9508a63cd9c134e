package directory

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// kindTick keeps what the previous cron tick saw of a running sweep.
const kindTick = "directory-tick"

// resumeIfStalled recounts a running sweep (Resume) when nothing of it moved since the
// previous tick: an instance stopped between a group's marker and its count leaves the
// count one short, and the sweep would stay open for good. A whole cron period without a
// count or a call means no task of the sweep is in flight, so the recount cannot race a
// task between its marker and its count, whichever instance runs it. greep local recounts
// at start instead, before its dispatcher runs any task.
func (w *Worker) resumeIfStalled(ctx context.Context) error {
	p, s, err := w.Progress(ctx)
	if err != nil || !s.Running() {
		return err
	}
	seen := fmt.Sprintf("%d/%d/%d/%d/%t", s.Generation, p.Done, p.Total, p.Calls, p.ListingDone)
	var last string
	if err := w.cfg.Store.Records(ctx, kindTick, func(_ string, data []byte) error {
		last = string(data)
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
	w.log.Info("the sweep has not moved since the last tick; recounting it", zap.Int64("generation", s.Generation), zap.Int64("done", p.Done), zap.Int64("total", p.Total))
	return w.Resume(ctx)
}
