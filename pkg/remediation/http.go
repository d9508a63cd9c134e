package remediation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
)

// Handler serves the remediation task paths (only to queued tasks) and the sweep's cron
// path:
//
//	POST /tasks/remediation/evaluate     tasks.Evaluate
//	POST /tasks/remediation/judge        tasks.Judge
//	POST /tasks/remediation/sweep-slice  one slice of a sweep
//	POST /tasks/remediation/notify       notify.Message
//	GET  /cron/remediation/sweep[?cap=N] start a sweep (App Engine cron, or a task)
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(queue.OnlyTasks(s.cfg.TrustAppEngineHeaders), callbudget.PerTask)
		r.Post(tasks.PathRemediationEvaluate, taskHandler(s, s.Evaluate))
		r.Post(tasks.PathRemediationJudge, taskHandler(s, s.Judge))
		r.Post(PathSweepSlice, taskHandler(s, s.sweepSlice))
		r.Post(notify.Path, taskHandler(s, s.sender.Deliver))
	})
	r.With(queue.OnlyCron(s.cfg.TrustAppEngineHeaders, true)).Get(PathCronSweep, s.cronSweep)
	return r
}

// taskHandler serves a task path with queue.Handle; these handlers need no queue.Run:
// what they return says what happens next.
func taskHandler[T any](s *Service, fn func(ctx context.Context, body T) error) http.HandlerFunc {
	return queue.Handle(queue.Runner{Queue: s.cfg.Queue, Log: s.log}, func(ctx context.Context, _ queue.Run, body T) error {
		return fn(ctx, body)
	})
}

// cronSweep starts a sweep. App Engine cron calls it with GET; ?cap=N overrides the run's
// patch cap.
func (s *Service) cronSweep(rw http.ResponseWriter, r *http.Request) {
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
