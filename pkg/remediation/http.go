package remediation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
)

// maxBody bounds a task body; the largest (a notification) is well under 64 KiB.
const maxBody = 1 << 20

// Handler serves the remediation task paths (only to queued tasks) and the sweep's cron
// path:
//
//	POST /tasks/remediation/evaluate     tasks.Evaluate
//	POST /tasks/remediation/sweep-slice  one slice of a sweep
//	POST /tasks/remediation/notify       notify.Message
//	GET  /cron/remediation/sweep[?cap=N] start a sweep (App Engine cron, or a task)
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(queue.OnlyTasks(s.cfg.TrustAppEngineHeaders), callbudget.PerTask)
		r.Post(tasks.PathRemediationEvaluate, taskHandler(s, s.Evaluate))
		r.Post(PathSweepSlice, taskHandler(s, s.sweepSlice))
		r.Post(notify.Path, taskHandler(s, s.sender.Deliver))
	})
	r.Get(PathCronSweep, s.cronSweep)
	return r
}

// taskHandler decodes a task body strictly and answers what the queue acts on: 204 when
// the task is done, 400 for a body no retry can fix, 502 for a failure worth retrying
// (not 503, which Cloud Tasks reads as "slow the whole queue down").
func taskHandler[T any](s *Service, fn func(ctx context.Context, body T) error) http.HandlerFunc {
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
		if err := fn(r.Context(), body); err != nil {
			if greep.ErrorCode(err) == greep.EINVALID {
				googleerror.Write(rw, http.StatusBadRequest, "invalid", greep.ErrorMessage(err))
				return
			}
			s.log.Warn("task failed; the queue retries it", zap.String("path", r.URL.Path), zap.Error(err))
			googleerror.Write(rw, http.StatusBadGateway, "backendError", err.Error())
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}
}

// cronSweep starts a sweep. App Engine cron calls it with GET; ?cap=N overrides the run's
// patch cap.
func (s *Service) cronSweep(rw http.ResponseWriter, r *http.Request) {
	_, isTask := queue.InfoFrom(r.Context())
	if !isTask && (!s.cfg.TrustAppEngineHeaders || r.Header.Get("X-Appengine-Cron") != "true") {
		googleerror.Write(rw, http.StatusForbidden, "forbidden", "cron endpoints accept only App Engine cron")
		return
	}
	override := 0
	if v := r.URL.Query().Get("cap"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			googleerror.Write(rw, http.StatusBadRequest, "invalid", fmt.Sprintf("cap %q: want a positive number of groups", v))
			return
		}
		override = n
	}
	id, err := s.StartSweep(r.Context(), override)
	if err != nil {
		s.log.Error("starting a sweep", zap.Error(err))
		googleerror.Write(rw, http.StatusInternalServerError, "backendError", err.Error())
		return
	}
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(rw).Encode(map[string]string{"runId": id})
}
