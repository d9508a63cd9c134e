package settingsworker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
)

// maxBody bounds a task body; a patch with its findings is well under 64 KiB.
const maxBody = 1 << 20

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

// taskRun is the task being handled, for rescheduling a copy of it.
type taskRun struct {
	queue, name, path string
	body              []byte
}

// retryError makes the handler answer a status the queue retries with backoff.
type retryError struct {
	status int
	reason string
	err    error
}

func (e *retryError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func taskHandler[T any](w *Worker, fn func(ctx context.Context, run taskRun, body T) error) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			googleerror.Write(rw, http.StatusBadRequest, "invalid", "reading the task body: "+err.Error())
			return
		}
		if len(raw) > maxBody {
			googleerror.Write(rw, http.StatusRequestEntityTooLarge, "requestTooLarge", "task body over 1 MiB")
			return
		}
		var body T
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			googleerror.Write(rw, http.StatusBadRequest, "invalid", "task body: "+err.Error())
			return
		}
		info, _ := queue.InfoFrom(r.Context())
		run := taskRun{queue: info.Queue, name: info.Name, path: r.URL.Path, body: raw}
		if err := fn(r.Context(), run, body); err != nil {
			var re *retryError
			switch {
			case errors.As(err, &re):
				w.log.Info("task will be retried", zap.String("path", run.path), zap.String("reason", re.reason), zap.Error(re.err))
				googleerror.Write(rw, re.status, re.reason, re.err.Error())
			case greep.ErrorCode(err) == greep.EINVALID:
				googleerror.Write(rw, http.StatusBadRequest, "invalid", greep.ErrorMessage(err))
			default:
				w.log.Error("task failed", zap.String("path", run.path), zap.Error(err))
				googleerror.Write(rw, http.StatusInternalServerError, "backendError", err.Error())
			}
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}
}

// googleMessage is the message of a Google API error, without the client's decoration.
func googleMessage(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Message != "" {
		return ge.Message
	}
	return err.Error()
}
