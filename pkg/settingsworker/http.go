package settingsworker

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
)

// Handler serves the groupssettings task paths, only to queued tasks, each with a budget
// of one Google API call:
//
//	POST /tasks/groupssettings/get    tasks.SettingsGet
//	POST /tasks/groupssettings/patch  tasks.SettingsPatch
func (w *Worker) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(queue.OnlyTasks(w.cfg.TrustAppEngineHeaders), callbudget.PerTask)
	r.Post(tasks.PathSettingsGet, taskHandler(w, w.get))
	r.Post(tasks.PathSettingsPatch, taskHandler(w, w.patch))
	return r
}

// taskRun is the task being handled, for rescheduling a copy of it: queue.Run under the
// names this package's handlers use.
type taskRun struct {
	queue, name, path string
	body              []byte
}

// retryError makes the handler answer a status the queue retries with backoff
// (queue.RetryError under the names this package's handlers use).
type retryError struct {
	status int
	reason string
	err    error
}

func (e *retryError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// taskHandler serves a task path with queue.Handle.
func taskHandler[T any](w *Worker, fn func(ctx context.Context, run taskRun, body T) error) http.HandlerFunc {
	return queue.Handle(w.log, func(ctx context.Context, run queue.Run, body T) error {
		err := fn(ctx, taskRun{queue: run.Queue, name: run.Name, path: run.Path, body: run.Body}, body)
		if re, ok := errors.AsType[*retryError](err); ok {
			return &queue.RetryError{Status: re.status, Reason: re.reason, Err: re.err}
		}
		return err
	})
}

// googleMessage is the message of a Google API error, without the client's decoration.
func googleMessage(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Message != "" {
		return ge.Message
	}
	return err.Error()
}
