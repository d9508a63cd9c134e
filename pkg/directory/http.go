package directory

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// Handler serves the task paths (only to queued tasks) and the resync cron path.
func (w *Worker) Handler() http.Handler {
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(queue.OnlyTasks(w.cfg.TrustAppEngineHeaders), callbudget.PerTask)
		r.Post(PathGroupsPage, queue.Handle(w.runner, w.groupsPage))
		r.Post(PathMembersPage, queue.Handle(w.runner, w.membersPage))
		r.Post(PathUsersPage, queue.Handle(w.runner, w.usersPage))
		r.Post(PathFinish, queue.Handle(w.runner, w.finish))
		r.Post(tasks.PathDirectoryRefresh, queue.Handle(w.runner, w.refresh))
		r.Post(tasks.PathDirectoryUser, queue.Handle(w.runner, w.userRefresh))
		r.Post(PathUsersSweepPage, queue.Handle(w.runner, w.usersSweepPage))
	})
	r.With(queue.OnlyCron(w.cfg.TrustAppEngineHeaders, false)).Get(PathCronResync, w.cronResync)
	return r
}

// enqueue puts a task with a JSON body on a queue.
func (w *Worker) enqueue(ctx context.Context, queueName, path, name string, body any, at time.Time) error {
	t, err := tasks.New(queueName, path, name, body, at)
	if err != nil {
		return err
	}
	if err := w.cfg.Queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("enqueue %s: %w", path, err)
	}
	return nil
}

// outcome is how a failed call was settled when the queue need not retry it.
type outcome int

const (
	gone   outcome = iota + 1 // the group no longer exists
	failed                    // recorded on the status page
)

// callFailed decides what a failed Directory call means for the task: an error for the
// queue layer to carry out (a retry with backoff, or a run after the quota reset, which
// the sweep waits for), otherwise how the task was settled.
func (w *Worker) callFailed(ctx context.Context, group string, callErr error) (outcome, error) {
	v := quota.Classifier(w.cfg.Quota).Classify(callErr, w.cfg.Now())
	switch v.Action {
	case syncplan.Gone:
		return gone, nil
	case syncplan.Reschedule:
		w.waitForReset(ctx, v.ResetAt)
		return 0, queue.RetryAfter(v.ResetAt, v.Reason, callErr)
	case syncplan.Fail:
		w.recordFailure(ctx, group, callErr, false)
		w.log.Warn("directory call failed; not retried", zap.String("group", group), zap.Error(callErr))
		return failed, nil
	default:
		return 0, &queue.RetryError{Status: v.Status, Reason: v.Reason, Err: callErr}
	}
}

// cronResync is App Engine cron's periodic call (GET): see Tick.
func (w *Worker) cronResync(rw http.ResponseWriter, r *http.Request) {
	msg, err := w.Tick(r.Context())
	if err != nil {
		googleerror.Write(rw, http.StatusInternalServerError, "backendError", err.Error())
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(rw, msg)
}

// Tick is the periodic entry point on App Engine: the first tick on an empty cache starts
// the full sync (a resync would refresh every group with two calls where a full sync spends
// one), later ticks a resync, and a tick while a sweep runs does nothing but finish its
// counting when the sweep has not moved since the previous tick (resumeIfStalled).
func (w *Worker) Tick(ctx context.Context) (string, error) {
	if err := w.resumeIfStalled(ctx); err != nil {
		return "", err
	}
	s, err := w.Sweep(ctx)
	if err != nil {
		return "", err
	}
	if s.Generation == 0 {
		if _, err := w.StartFullSync(ctx); err != nil {
			return "", err
		}
		return "full sync started", nil
	}
	started, err := w.StartResync(ctx)
	if err != nil {
		return "", err
	}
	if !started {
		return "a sweep is running; no resync started", nil
	}
	return "resync started", nil
}
