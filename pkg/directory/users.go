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
	"github.com/greephq/greep/pkg/tasks"
)

// fromUser is a users.list entry as the cache keeps it: the keys Google accepts for the
// user (primary email, aliases) and what hygiene judges (suspended, archived).
func fromUser(u *admin.User, now time.Time) greep.User {
	return greep.User{
		ID:                 u.Id,
		PrimaryEmail:       u.PrimaryEmail,
		Aliases:            u.Aliases,
		NonEditableAliases: u.NonEditableAliases,
		Suspended:          u.Suspended,
		Archived:           u.Archived,
		SyncedAt:           now,
	}
}

// userRefresh re-reads one user (users.get) after a user event (storeUser: the hygiene
// findings follow a suspension at once); a user Google no longer knows is dropped, and its
// groups, which Google empties of it, are refreshed.
func (w *Worker) userRefresh(ctx context.Context, run queue.Run, t tasks.UserRefresh) error {
	if t.User == "" {
		return greep.Errorf(greep.EINVALID, "invalid task: a user refresh needs a user")
	}
	res, err := w.cfg.Directory.Users.Get(t.User).Context(ctx).Do()
	w.countCall(ctx, 0)
	if err != nil {
		out, err := w.callFailed(ctx, t.User, err)
		if err != nil || out != gone {
			return err
		}
		return w.userGone(ctx, t.User)
	}
	return w.storeUser(ctx, fromUser(res, w.cfg.Now()), nil)
}

// storeUser stores u. If its primary email changed (a rename), the groups it is in are
// refreshed, so their member lists name it as Google now does; if its status changed (or
// it is new to the cache), every group it is in is judged again. With found (a users
// sweep's), a change no event announced is recorded in the history first, as a resync's
// are: with its cause and no actor.
func (w *Worker) storeUser(ctx context.Context, u greep.User, found *userFinding) error {
	prev, err := w.cfg.Store.User(ctx, u.ID)
	known := err == nil
	if err != nil && !errors.Is(err, greep.ErrNotFound) {
		return fmt.Errorf("reading user %s: %w", u.PrimaryEmail, err)
	}
	if found != nil {
		if err := found.record(ctx, w.cfg.Store, userChanges(prev, known, u)); err != nil {
			return err
		}
	}
	if err := w.cfg.Store.PutUsers(ctx, []greep.User{u}); err != nil {
		return fmt.Errorf("storing user %s: %w", u.PrimaryEmail, err)
	}
	if known && !strings.EqualFold(prev.PrimaryEmail, u.PrimaryEmail) {
		if err := w.refreshGroupsOf(ctx, u, "renamed", prev.PrimaryEmail+" renamed "+u.PrimaryEmail); err != nil {
			return err
		}
	}
	if known && prev.Status() == u.Status() {
		return nil
	}
	groups, err := w.groupsOfUser(ctx, u)
	if err != nil {
		return err
	}
	for _, g := range groups {
		// Named after the user's new state: a re-run evaluates once, a later change again.
		name := tasks.Name(g, "evaluate-user", u.ID, u.Status(), u.SyncedAt.UTC().Format(time.RFC3339Nano))
		if err := w.enqueue(ctx, tasks.QueueRemediation, tasks.PathRemediationEvaluate, name, tasks.Evaluate{Group: g}, time.Time{}); err != nil {
			return err
		}
	}
	w.log.Info("user status changed", zap.String("user", u.PrimaryEmail), zap.String("status", u.Status()), zap.Int("groups", len(groups)))
	return nil
}

// userGone drops a deleted user and refreshes the groups that held it.
func (w *Worker) userGone(ctx context.Context, key string) error {
	u, err := w.cfg.Store.User(ctx, key)
	if errors.Is(err, greep.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding deleted user %s: %w", key, err)
	}
	return w.dropUser(ctx, u)
}

// dropUser removes u from the cache after refreshing the groups that held it (Google
// takes a deleted user out of every group).
func (w *Worker) dropUser(ctx context.Context, u greep.User) error {
	if err := w.refreshGroupsOf(ctx, u, "deleted", "user deleted: "+u.PrimaryEmail); err != nil {
		return err
	}
	if err := w.cfg.Store.DeleteUser(ctx, u.ID); err != nil {
		return fmt.Errorf("removing deleted user %s: %w", u.PrimaryEmail, err)
	}
	w.log.Info("user deleted", zap.String("user", u.PrimaryEmail))
	return nil
}

// refreshGroupsOf enqueues a refresh of every group holding u, named after what happened
// to u (and its email then), so a re-run enqueues nothing new.
func (w *Worker) refreshGroupsOf(ctx context.Context, u greep.User, what, reason string) error {
	groups, err := w.groupsOfUser(ctx, u)
	if err != nil {
		return err
	}
	for _, g := range groups {
		name := tasks.Name(g, "user-"+what, u.ID, u.PrimaryEmail)
		if err := w.enqueue(ctx, w.cfg.PushQueue, tasks.PathDirectoryRefresh, name, tasks.Refresh{Group: g, Reason: reason}, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// groupsOfUser returns the emails of the groups holding u directly, from the reverse
// index.
func (w *Worker) groupsOfUser(ctx context.Context, u greep.User) ([]string, error) {
	ids, err := w.cfg.Store.MemberOf(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", u.PrimaryEmail, err)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		g, err := w.cfg.Store.Group(ctx, id)
		if errors.Is(err, greep.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("group %s of %s: %w", id, u.PrimaryEmail, err)
		}
		out = append(out, g.Email)
	}
	return out, nil
}
