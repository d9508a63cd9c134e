package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	admin "google.golang.org/api/admin/directory/v1"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/syncplan"
)

// GroupsPage is the body of a groups.list page task.
type GroupsPage struct {
	Generation int64  `json:"generation"`
	Mode       string `json:"mode"`
	PageToken  string `json:"pageToken,omitempty"`
}

// UsersPage is the body of a users.list page task.
type UsersPage struct {
	Generation int64  `json:"generation"`
	PageToken  string `json:"pageToken,omitempty"`
}

// Finish is the body of the task that closes a sweep.
type Finish struct {
	Generation int64 `json:"generation"`
}

// StartFullSync begins a full sync: a new generation, its first groups.list page and its
// first users.list page. A sweep still running is superseded (its remaining tasks see the
// newer generation and stop).
func (w *Worker) StartFullSync(ctx context.Context) (int64, error) {
	s, err := w.begin(ctx, syncplan.ModeFull, true)
	if err != nil {
		return 0, err
	}
	if err := w.enqueue(ctx, w.cfg.SweepQueue, PathUsersPage, syncplan.UsersPageName(s.Generation, ""), UsersPage{Generation: s.Generation}, time.Time{}); err != nil {
		return 0, err
	}
	// The full sync reads every user: the next users sweep is due a day later.
	if err := w.usersReadAt(ctx, w.cfg.Now()); err != nil {
		return 0, err
	}
	return s.Generation, nil
}

// StartResync begins a resync unless a sweep is running; it reports whether it started one.
// It also starts the daily users sweep when that is due.
func (w *Worker) StartResync(ctx context.Context) (bool, error) {
	if _, err := w.StartUsersSweepIfDue(ctx); err != nil {
		return false, err
	}
	_, err := w.begin(ctx, syncplan.ModeResync, false)
	if errors.Is(err, errBusy) {
		return false, nil
	}
	return err == nil, err
}

var errBusy = errors.New("a sweep is running")

func (w *Worker) begin(ctx context.Context, mode string, supersede bool) (Sweep, error) {
	s, err := greep.UpdateStateJSON(ctx, w.cfg.Store, stateSweep, func(s *Sweep) error {
		if s.Running() && !supersede {
			return errBusy
		}
		*s = Sweep{Generation: s.Generation + 1, Mode: mode, StartedAt: w.cfg.Now()}
		return nil
	})
	if err != nil {
		if errors.Is(err, errBusy) {
			return Sweep{}, err
		}
		return Sweep{}, fmt.Errorf("directory: starting a %s: %w", mode, err)
	}
	w.log.Info("sweep started", zap.String("mode", mode), zap.Int64("generation", s.Generation))
	if err := w.enqueue(ctx, w.cfg.SweepQueue, PathGroupsPage, syncplan.GroupsPageName(s.Generation, ""), GroupsPage{Generation: s.Generation, Mode: mode}, time.Time{}); err != nil {
		return Sweep{}, err
	}
	w.publish(ctx, true)
	return s, nil
}

// current reports whether gen is the running sweep; tasks of a superseded or finished
// sweep end quietly.
func (w *Worker) current(ctx context.Context, gen int64) (bool, error) {
	_, ok, err := w.currentSweep(ctx, gen)
	return ok, err
}

// currentSweep is current with the sweep it read.
func (w *Worker) currentSweep(ctx context.Context, gen int64) (Sweep, bool, error) {
	s, err := w.Sweep(ctx)
	if err != nil {
		return Sweep{}, false, err
	}
	return s, s.Generation == gen && s.Running(), nil
}

// groupsPage reads one groups.list page of a sweep, stores the groups under the sweep's
// generation, enqueues the member reads the plan selects and then the next page.
func (w *Worker) groupsPage(ctx context.Context, run queue.Run, t GroupsPage) error {
	if ok, err := w.current(ctx, t.Generation); err != nil || !ok {
		return err
	}
	ctx = w.sweepCause(ctx, t.Mode)
	res, err := w.cfg.Directory.Groups.List().Customer(w.cfg.Customer).MaxResults(syncplan.GroupsPageSize).
		PageToken(t.PageToken).Fields(GroupFields...).Context(ctx).Do()
	w.countCall(ctx, t.Generation)
	if err != nil {
		_, err := w.callFailed(ctx, "groups.list", err)
		return err
	}
	now := w.cfg.Now()
	listed := make([]greep.Group, 0, len(res.Groups))
	for _, g := range res.Groups {
		listed = append(listed, fromGroup(g, now))
	}

	var selected []syncplan.Selection
	if t.Mode == syncplan.ModeResync {
		cached := make(map[string]greep.Group, len(listed))
		for _, g := range listed {
			c, err := w.cfg.Store.Group(ctx, g.ID)
			if errors.Is(err, greep.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading cached group %s: %w", g.Email, err)
			}
			cached[g.ID] = c
		}
		selected = w.cfg.Resync.Select(listed, cached, now)
		w.observeResync(selected)
	} else {
		for _, g := range listed {
			selected = append(selected, syncplan.Selection{Group: g, Reason: syncplan.ReasonNew})
		}
	}

	for i := range listed {
		listed[i].Generation = t.Generation
	}
	if err := w.cfg.Store.PutGroups(ctx, listed); err != nil {
		return fmt.Errorf("storing groups: %w", err)
	}
	// The page marker holds the page's count, so Resume can recount the total, and its
	// groups and next page, so a stalled sweep can re-issue what was lost (reissue).
	// The last page's is written at once: the listing is marked done below, before this
	// run's unit commits, and a total without the last page's count would let a member
	// run see the sweep finished early.
	pageID := markerID(t.Generation, "groups/"+t.PageToken)
	marker := pageMarker{Count: len(selected), Groups: make([]string, 0, len(selected)), Next: res.NextPageToken, Last: res.NextPageToken == ""}
	for _, s := range selected {
		marker.Groups = append(marker.Groups, s.Group.ID)
	}
	data, err := marker.encode()
	if err != nil {
		return err
	}
	mark := w.mark
	if res.NextPageToken == "" {
		mark = w.markNow
	}
	_, _, err = mark(ctx, t.Generation, kindPage, pageID, data, counter(t.Generation, "total"), int64(len(selected)))
	if err != nil {
		return err
	}
	for _, s := range selected {
		g := s.Group
		g.Generation = t.Generation
		if !syncplan.NeedsMembers(g) {
			// An empty group's snapshot is known without a call.
			judge, err := w.emptiedChanged(ctx, g)
			if err != nil {
				return err
			}
			if _, err := w.storeRead(ctx, g, nil, now, false); err != nil {
				return err
			}
			if judge {
				if err := w.judge(ctx, g, now); err != nil {
					return err
				}
			}
			if err := w.groupDone(ctx, t.Generation, g.ID); err != nil {
				return err
			}
			continue
		}
		mp := MembersPage{Run: syncplan.SweepRun(t.Generation, g.ID), Group: runGroup(g), Generation: t.Generation}
		if err := w.enqueue(ctx, w.cfg.SweepQueue, PathMembersPage, syncplan.MembersPageName(mp.Run, ""), mp, time.Time{}); err != nil {
			return err
		}
	}

	if res.NextPageToken != "" {
		next := GroupsPage{Generation: t.Generation, Mode: t.Mode, PageToken: res.NextPageToken}
		return w.enqueue(ctx, w.cfg.SweepQueue, PathGroupsPage, syncplan.GroupsPageName(t.Generation, res.NextPageToken), next, time.Time{})
	}
	if err := w.listingDone(ctx, t.Generation); err != nil {
		return err
	}
	return w.maybeFinish(ctx, t.Generation)
}

// usersPage reads one users.list page of a full sync into the cache: the hygiene findings
// need to know who is suspended or archived.
func (w *Worker) usersPage(ctx context.Context, run queue.Run, t UsersPage) error {
	if ok, err := w.current(ctx, t.Generation); err != nil || !ok {
		return err
	}
	res, err := w.cfg.Directory.Users.List().Customer(w.cfg.Customer).MaxResults(syncplan.UsersPageSize).
		PageToken(t.PageToken).Context(ctx).Do()
	w.countCall(ctx, t.Generation)
	if err != nil {
		_, err := w.callFailed(ctx, "users.list", err)
		return err
	}
	users := make([]greep.User, 0, len(res.Users))
	for _, u := range res.Users {
		users = append(users, fromUser(u, w.cfg.Now()))
	}
	if err := w.cfg.Store.PutUsers(ctx, users); err != nil {
		return fmt.Errorf("storing users: %w", err)
	}
	if res.NextPageToken == "" {
		return nil
	}
	next := UsersPage{Generation: t.Generation, PageToken: res.NextPageToken}
	return w.enqueue(ctx, w.cfg.SweepQueue, PathUsersPage, syncplan.UsersPageName(t.Generation, res.NextPageToken), next, time.Time{})
}

// finish closes a sweep whose listing is complete and whose groups are all done: groups
// the sweep did not see no longer exist and are removed with their members.
func (w *Worker) finish(ctx context.Context, _ queue.Run, t Finish) error {
	p, s, err := w.Progress(ctx)
	if err != nil {
		return err
	}
	if s.Generation != t.Generation || !s.Running() || !p.Finished() {
		return nil
	}
	ctx = w.sweepCause(ctx, s.Mode)
	var stale []string
	var groups, members int64
	tok := ""
	for {
		page, next, err := w.cfg.Store.Groups(ctx, greep.Page{Token: tok, Limit: 1000})
		if err != nil {
			return fmt.Errorf("listing cached groups: %w", err)
		}
		for _, g := range page {
			if g.Generation < t.Generation {
				stale = append(stale, g.ID)
				continue
			}
			groups++
			members += g.DirectMembersCount
		}
		if next == "" {
			break
		}
		tok = next
	}
	for _, id := range stale {
		if err := w.cfg.Store.DeleteGroup(ctx, id); err != nil {
			return fmt.Errorf("removing group %s: %w", id, err)
		}
	}
	now := w.cfg.Now()
	if _, err := greep.UpdateStateJSON(ctx, w.cfg.Store, stateSweep, func(cur *Sweep) error {
		if cur.Generation == t.Generation {
			cur.FinishedAt = now
		}
		return nil
	}); err != nil {
		return fmt.Errorf("closing the sweep: %w", err)
	}
	if _, err := greep.UpdateStateJSON(ctx, w.cfg.Store, greep.StateSync, func(st *greep.SyncState) error {
		if s.Mode == syncplan.ModeFull {
			st.LastFullSyncAt = now
		} else {
			st.LastResyncAt = now
		}
		st.Groups, st.Members = groups, members
		return nil
	}); err != nil {
		return fmt.Errorf("closing the sweep: %w", err)
	}
	w.publish(ctx, true)
	w.log.Info("sweep finished", zap.String("mode", s.Mode), zap.Int64("generation", t.Generation),
		zap.Int64("groups", groups), zap.Int("removed", len(stale)), zap.Int64("calls", p.Calls))
	w.clearMarkers(ctx, t.Generation)
	w.prune(ctx)
	return nil
}

func (w *Worker) observeResync(selected []syncplan.Selection) {
	if w.cfg.ResyncChanges == nil {
		return
	}
	n := 0
	for _, s := range selected {
		if s.Reason == syncplan.ReasonNew || s.Reason == syncplan.ReasonChanged {
			n++
		}
	}
	if n > 0 {
		w.cfg.ResyncChanges.ObserveResyncChanges(n)
	}
}

// clearMarkers drops the sweep's idempotency markers, the run markers of refreshes
// (which only guard a re-delivery in the minutes after a run) and the pages its runs
// staged and never swapped in (a run lost to a killed process, whose group a reissued run
// read again), in one commit; a failure only leaves garbage.
func (w *Worker) clearMarkers(ctx context.Context, gen int64) {
	var drop greep.Writes
	for kind, prefixes := range map[string][]string{
		kindDone:  {markerID(gen, "")},
		kindPage:  {markerID(gen, "")},
		kindRun:   {syncplan.SweepRun(gen, ""), "r"},
		kindStage: {syncplan.SweepRun(gen, "")},
	} {
		var ids []string
		err := w.cfg.Store.Records(ctx, kind, func(id string, _ []byte) error {
			for _, p := range prefixes {
				if strings.HasPrefix(id, p) {
					ids = append(ids, id)
					break
				}
			}
			return nil
		})
		if err != nil {
			w.log.Warn("listing sweep markers", zap.Error(err))
			continue
		}
		for _, id := range ids {
			drop.Deletes = append(drop.Deletes, greep.RecordKey{Kind: kind, ID: id})
		}
	}
	if err := w.cfg.Store.Commit(ctx, &drop); err != nil {
		w.log.Warn("deleting the sweep's markers", zap.Error(err))
	}
}

func fromGroup(g *admin.Group, now time.Time) greep.Group {
	return greep.Group{
		ID:                 g.Id,
		Email:              g.Email,
		Aliases:            g.Aliases,
		NonEditableAliases: g.NonEditableAliases,
		Name:               g.Name,
		Description:        g.Description,
		DirectMembersCount: g.DirectMembersCount,
		ETag:               g.Etag,
		SyncedAt:           now,
	}
}
