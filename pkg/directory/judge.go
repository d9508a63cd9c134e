package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// Rules are judged whenever a group's members change (tasks.Judge, in the remediation
// service), not only after a settings read: a suspended user or an outsider added, or a
// sentinel that makes the group secure, opens its finding as soon as the members are
// stored. A sweep writes tens of thousands of groups, so it judges only those whose
// members differ from the snapshot they replace; the group's etag tells which may
// differ without reading their old members. A refresh is always judged: a notification
// asked for it, and it is the read that confirms what a notification announced.

// sweepChanged reports whether a sweep's write of members over the group as stored
// before (prev, found) changes what the rules see. A group's first read is the
// baseline, judged by the settings sweep that follows.
func (w *Worker) sweepChanged(ctx context.Context, prev greep.Group, found bool, etag string, members []greep.Member) (bool, error) {
	if !w.cfg.Judge || !found || prev.MembersSyncedAt.IsZero() || prev.MembersETag == etag {
		return false, nil
	}
	old, err := w.cfg.Store.Members(ctx, prev.ID)
	if err != nil {
		return false, fmt.Errorf("reading members of %s: %w", prev.Email, err)
	}
	now, err := cache.NormalizeMembers(members)
	if err != nil {
		return true, nil // the store refuses it, and says why
	}
	return len(cache.MemberChanges(prev, old, now, greep.ChangeCause{})) > 0, nil
}

// judge queues the judging of group g's members, as written at readAt.
func (w *Worker) judge(ctx context.Context, g greep.Group, readAt time.Time) error {
	if !w.cfg.Judge {
		return nil
	}
	t, err := tasks.JudgeTask(tasks.Judge{Group: g.Email, Version: readAt.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	if err := w.cfg.Queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("queueing the judging of %s: %w", g.Email, err)
	}
	return nil
}

// emptiedChanged is sweepChanged for a group a sweep found empty; PutGroups kept the
// stored snapshot's etag and time, so the stored group still describes it.
func (w *Worker) emptiedChanged(ctx context.Context, g greep.Group) (bool, error) {
	if !w.cfg.Judge {
		return false, nil
	}
	prev, err := w.cfg.Store.Group(ctx, g.ID)
	if err != nil && !errors.Is(err, greep.ErrNotFound) {
		return false, fmt.Errorf("reading group %s: %w", g.Email, err)
	}
	return w.sweepChanged(ctx, prev, err == nil, g.ETag, nil)
}
