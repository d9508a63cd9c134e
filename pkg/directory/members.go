package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// MembersPage is the body of a members.list page task: one page of one run, a run being
// one read of a group's whole member list, by a sweep (Generation > 0) or a refresh.
type MembersPage struct {
	Run        string      `json:"run"`
	Group      greep.Group `json:"group"` // as listed or got; a sweep's carries runGroup's fields alone
	Page       int         `json:"page,omitempty"`
	PageToken  string      `json:"pageToken,omitempty"`
	Generation int64       `json:"generation,omitempty"`
	// ReadAt is when the run's first page was read: the snapshot's time, so a slower run
	// never replaces a list read after it.
	ReadAt time.Time `json:"readAt,omitzero"`
	// Refresh is the push-driven refresh this run serves, checked once the snapshot is in.
	Refresh *tasks.Refresh `json:"refresh,omitempty"`
}

// runGroup is what a sweep's member run needs of its group: the id to list, the email to
// name it by and the etag its snapshot is stored with. A task carries no more: its body
// is stored, and decoded for every page (the whole group was about a twentieth of a
// sync's CPU in its tasks' decoding).
func runGroup(g greep.Group) greep.Group {
	return greep.Group{ID: g.ID, Email: g.Email, ETag: g.ETag}
}

// membersPage reads one members.list page. A one-page list replaces the snapshot at once;
// longer lists are staged page by page and swapped in whole on the last page, so readers
// never see a half-read list.
func (w *Worker) membersPage(ctx context.Context, run queue.Run, t MembersPage) error {
	if t.Generation > 0 {
		s, ok, err := w.currentSweep(ctx, t.Generation)
		if err != nil || !ok {
			return err
		}
		ctx = w.sweepCause(ctx, s.Mode)
	} else if t.Refresh != nil {
		ctx = w.pushCause(ctx, *t.Refresh)
	}
	if t.Page == 0 {
		t.ReadAt = w.cfg.Now()
	}
	res, err := w.cfg.Directory.Members.List(t.Group.ID).MaxResults(syncplan.MembersPageSize).
		PageToken(t.PageToken).Fields(MemberFields...).Context(ctx).Do()
	w.countCall(ctx, t.Generation)
	if err != nil {
		out, err := w.callFailed(ctx, t.Group.Email, err)
		switch {
		case err != nil:
			// Retried, or run again after the quota reset: that run finishes the group,
			// and the sweep waits for it.
			return err
		case out == gone:
			if err := w.cfg.Store.DeleteGroup(ctx, t.Group.ID); err != nil {
				return fmt.Errorf("removing deleted group %s: %w", t.Group.Email, err)
			}
			w.dropStaged(ctx, t.Run)
		}
		// Gone, or failed (the failure stays on the status page): a sweep counts the
		// group as done so it can finish.
		if t.Generation > 0 {
			return w.groupDone(ctx, t.Generation, t.Group.ID)
		}
		return nil
	}
	page := make([]greep.Member, 0, len(res.Members))
	for _, m := range res.Members {
		page = append(page, greep.Member{ID: m.Id, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status})
	}

	if res.NextPageToken != "" {
		if err := w.stage(ctx, t.Run, t.Page, page); err != nil {
			return err
		}
		next := t
		next.Page, next.PageToken = t.Page+1, res.NextPageToken
		return w.enqueue(ctx, run.QueueOr(w.cfg.SweepQueue), PathMembersPage, syncplan.MembersPageName(t.Run, res.NextPageToken), next, time.Time{})
	}

	members := page
	if t.Page > 0 {
		staged, err := w.staged(ctx, t.Run, t.Page)
		if err != nil {
			// A last page delivered again after its run was swapped in finds its staged
			// pages dropped: the work is done.
			if merr := w.cfg.Store.CreateRecord(ctx, kindRun, t.Run, nil); errors.Is(merr, greep.ErrConflict) {
				return w.runDone(ctx, t, nil, nil, false)
			}
			_ = w.cfg.Store.DeleteRecord(ctx, kindRun, t.Run)
			return err
		}
		members = append(staged, page...)
	}
	// A read that started after this one (a push refresh while the sweep ran) and was
	// stored already is fresher: this run must not put an older list over it. The store
	// holds to that itself, in the write's transaction (cache.OlderRead), for a fresher
	// read stored between this check and this run's commit; the check spares the write
	// and has the run finish with the stored list. A sweep's run that neither judges nor
	// settles provisional changes needs nothing else of the stored group, and leaves the
	// check to the store: the read was 3.6% of an origin sync's CPU.
	var lagging []provisional.Mark
	marks, err := w.marks(ctx, t.Group)
	if err != nil {
		return err
	}
	var c greep.Group
	found := false
	if t.Refresh != nil || w.cfg.Judge || len(marks.Members) > 0 {
		c, err = w.cfg.Store.Group(ctx, t.Group.ID)
		found = err == nil
	}
	if found && c.MembersSyncedAt.After(t.ReadAt) {
		w.log.Debug("a fresher member list is stored; keeping it", zap.String("group", t.Group.Email))
		if members, err = w.cfg.Store.Members(ctx, t.Group.ID); err != nil {
			return fmt.Errorf("reading members of %s: %w", t.Group.Email, err)
		}
	} else {
		judge := t.Refresh != nil
		if !judge {
			if judge, err = w.sweepChanged(ctx, c, found, t.Group.ETag, members); err != nil {
				return err
			}
		}
		if lagging, err = w.storeReadOver(w.storeCtx(ctx, t), t.Group, marks, members, t.ReadAt, w.lastPoll(t.Refresh)); err != nil {
			return err
		}
		if judge {
			if err := w.judge(ctx, t.Group, t.ReadAt); err != nil {
				return err
			}
		}
	}
	if t.Page > 0 {
		// Recorded before the staged pages go, so a second delivery knows the swap is done.
		if err := w.cfg.Store.PutRecord(ctx, kindRun, t.Run, nil); err != nil {
			return fmt.Errorf("recording run %s: %w", t.Run, err)
		}
		w.dropStaged(ctx, t.Run)
	}
	return w.runDone(ctx, t, members, lagging, true)
}

// runDone finishes a member run whose snapshot is in: a refresh checks what the push
// event announced and the provisional changes the read lags behind (when it has the
// members), a sweep counts the group.
func (w *Worker) runDone(ctx context.Context, t MembersPage, members []greep.Member, lagging []provisional.Mark, fresh bool) error {
	if t.Refresh != nil {
		if !fresh {
			return nil
		}
		return w.checkExpectations(ctx, *t.Refresh, t.Group, members, lagging)
	}
	if t.Generation > 0 {
		return w.groupDone(ctx, t.Generation, t.Group.ID)
	}
	return nil
}

// storeCtx is the context a run's list is stored with: a sweep's one-page list goes to
// the run's unit of work; a longer one (its run marker must follow the swap) and a
// refresh's (its expectations are checked against the store) are written at once.
func (w *Worker) storeCtx(ctx context.Context, t MembersPage) context.Context {
	if t.Generation > 0 && t.Page == 0 {
		return ctx
	}
	return queue.WithBatch(ctx, nil)
}

func stageID(run string, page int) string { return fmt.Sprintf("%s/%06d", run, page) }

func (w *Worker) stage(ctx context.Context, run string, page int, members []greep.Member) error {
	b, err := json.Marshal(members)
	if err != nil {
		return fmt.Errorf("staging members: %w", err)
	}
	if err := w.cfg.Store.PutRecord(ctx, kindStage, stageID(run, page), b); err != nil {
		return fmt.Errorf("staging members: %w", err)
	}
	return nil
}

// staged returns the pages 0..upto-1 staged for run, in order. A missing page means the
// staging was lost (dropped by an overlapping run of the same group); the run then fails
// loudly rather than swap in a partial list.
func (w *Worker) staged(ctx context.Context, run string, upto int) ([]greep.Member, error) {
	var out []greep.Member
	want := 0
	err := w.cfg.Store.Records(ctx, kindStage, func(id string, data []byte) error {
		if !strings.HasPrefix(id, run+"/") || want >= upto {
			return nil
		}
		if id != stageID(run, want) {
			return fmt.Errorf("staged page %d of run %s is missing", want, run)
		}
		var page []greep.Member
		if err := json.Unmarshal(data, &page); err != nil {
			return fmt.Errorf("staged page %s: %w", id, err)
		}
		out = append(out, page...)
		want++
		return nil
	})
	if err == nil && want < upto {
		err = fmt.Errorf("staged pages of run %s: %d of %d found", run, want, upto)
	}
	if err != nil {
		return nil, fmt.Errorf("reading staged members: %w", err)
	}
	return out, nil
}

func (w *Worker) dropStaged(ctx context.Context, run string) {
	var ids []string
	_ = w.cfg.Store.Records(ctx, kindStage, func(id string, _ []byte) error {
		if strings.HasPrefix(id, run+"/") {
			ids = append(ids, id)
		}
		return nil
	})
	for _, id := range ids {
		if err := w.cfg.Store.DeleteRecord(ctx, kindStage, id); err != nil && !errors.Is(err, greep.ErrNotFound) {
			w.log.Warn("dropping staged members", zap.String("run", run), zap.Error(err))
		}
	}
}
