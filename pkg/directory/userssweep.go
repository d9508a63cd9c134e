package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// The daily users sweep keeps the user directory whole when a user event was missed: it
// lists every user, one users.list page per task on the sweep lane, stores each, queues
// the evaluation of the groups of any user whose status changed, and after the last page
// drops the users the listing no longer shows (deleted at Google). The resync tick starts
// it (StartResync, called by the resync cron and greep local's resync loop) when the last
// one, or the full sync, began a day ago or more, so it needs no cron of its own.

// PathUsersSweepPage is the task path of one users.list page of the daily sweep.
const PathUsersSweepPage = "/tasks/directory/users-sweep-page"

// UsersSweepEvery is how often the users sweep runs.
const UsersSweepEvery = 24 * time.Hour

// StateUsersSweep is the state document of the users sweep.
const StateUsersSweep = "directory-users-sweep"

// UsersSweep is the users sweep's state.
type UsersSweep struct {
	// Started is when the latest sweep began; users it did not see since are gone.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Removed  int       `json:"removed,omitempty"`
}

// UsersSweepPage is the body of a users sweep page task.
type UsersSweepPage struct {
	Started   time.Time `json:"started"`
	PageToken string    `json:"pageToken,omitempty"`
}

func usersSweepPageName(started time.Time, pageToken string) string {
	return tasks.Name("users-sweep", started.UTC().Format(time.RFC3339Nano), pageToken)
}

// StartUsersSweepIfDue starts the users sweep unless one began less than UsersSweepEvery
// ago; it reports whether it started one.
func (w *Worker) StartUsersSweepIfDue(ctx context.Context) (bool, error) {
	now := w.cfg.Now()
	_, err := greep.UpdateStateJSON(ctx, w.cfg.Store, StateUsersSweep, func(s *UsersSweep) error {
		if !s.Started.IsZero() && now.Sub(s.Started) < UsersSweepEvery {
			return errUnchanged
		}
		*s = UsersSweep{Started: now}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("users sweep state: %w", err)
	}
	return true, w.enqueue(ctx, w.cfg.SweepQueue, PathUsersSweepPage, usersSweepPageName(now, ""), UsersSweepPage{Started: now}, time.Time{})
}

var errUnchanged = errors.New("unchanged")

// usersReadAt records that every user was read from at (a full sync), so the next users
// sweep is due a day after it; a sweep of the users still running is superseded.
func (w *Worker) usersReadAt(ctx context.Context, at time.Time) error {
	_, err := greep.UpdateStateJSON(ctx, w.cfg.Store, StateUsersSweep, func(s *UsersSweep) error {
		*s = UsersSweep{Started: at, Finished: at}
		return nil
	})
	return err
}

// usersSweepPage reads one users.list page of the users sweep.
func (w *Worker) usersSweepPage(ctx context.Context, run queue.Run, t UsersSweepPage) error {
	var s UsersSweep
	if _, err := greep.LoadState(ctx, w.cfg.Store, StateUsersSweep, &s); err != nil {
		return err
	}
	if !s.Started.Equal(t.Started) {
		return nil // superseded by a later sweep
	}
	res, err := w.cfg.Directory.Users.List().Customer(w.cfg.Customer).MaxResults(syncplan.UsersPageSize).
		PageToken(t.PageToken).Context(ctx).Do()
	w.countCall(ctx, 0)
	if err != nil {
		_, err := w.callFailed(ctx, "users.list", err)
		return err
	}
	now := w.cfg.Now()
	found := &userFinding{started: t.Started, at: now}
	for _, au := range res.Users {
		if err := w.storeUser(ctx, fromUser(au, now), found); err != nil {
			return err
		}
	}
	if res.NextPageToken != "" {
		next := UsersSweepPage{Started: t.Started, PageToken: res.NextPageToken}
		return w.enqueue(ctx, w.cfg.SweepQueue, PathUsersSweepPage, usersSweepPageName(t.Started, res.NextPageToken), next, time.Time{})
	}
	removed, err := w.removeUnseenUsers(ctx, found)
	if err != nil {
		return err
	}
	_, err = greep.UpdateStateJSON(ctx, w.cfg.Store, StateUsersSweep, func(s *UsersSweep) error {
		if !s.Started.Equal(t.Started) {
			return errUnchanged
		}
		s.Finished, s.Removed = now, removed
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	w.log.Info("users sweep finished", zap.Int("removed", removed))
	return nil
}

// removeUnseenUsers drops the users the sweep did not list, recording their deletion
// and refreshing their groups.
func (w *Worker) removeUnseenUsers(ctx context.Context, found *userFinding) (int, error) {
	started := found.started
	var gone []greep.User
	q := greep.UserQuery{Page: greep.Page{Limit: 500}}
	for {
		us, next, err := w.cfg.Store.Users(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("listing users: %w", err)
		}
		for _, u := range us {
			if u.SyncedAt.Before(started) {
				gone = append(gone, u)
			}
		}
		if next == "" {
			break
		}
		q.Token = next
	}
	for _, u := range gone {
		if err := found.record(ctx, w.cfg.Store, []userChange{{event: "DELETE_USER", email: u.PrimaryEmail}}); err != nil {
			return 0, err
		}
		if err := w.dropUser(ctx, u); err != nil {
			return 0, err
		}
	}
	return len(gone), nil
}
