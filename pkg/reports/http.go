package reports

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
)

// HeaderCron is set by App Engine on cron requests (and stripped from outside ones).
const HeaderCron = queue.HeaderCron

// Handler serves the worker's task and cron paths. trustAppEngineHeaders is true only on
// App Engine, which strips the task and cron headers from outside requests.
func (w *Worker) Handler(trustAppEngineHeaders bool) http.Handler {
	runner := queue.Runner{Queue: w.queue, Log: w.log}
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(queue.OnlyTasks(trustAppEngineHeaders), callbudget.PerTask)
		r.Post(tasks.PathReportsRenew, queue.Handle(runner, w.renewTask))
		r.Post(PathStop, queue.Handle(runner, w.stopChannelTask))
		r.Post(PathBackfill, queue.Handle(runner, w.backfillTask))
	})
	r.With(queue.OnlyCron(trustAppEngineHeaders, false)).Get(PathCron, w.serveCron)
	return r
}

func (w *Worker) renewTask(ctx context.Context, _ queue.Run, b tasks.RenewChannel) error {
	_, err := w.Renew(ctx, b.Application)
	return w.settle(err)
}

func (w *Worker) stopChannelTask(ctx context.Context, _ queue.Run, b StopChannel) error {
	if b.ID == "" {
		return greep.Errorf(greep.EINVALID, "stop task without a channel id")
	}
	return w.settle(w.Stop(ctx, b.ID))
}

func (w *Worker) backfillTask(ctx context.Context, _ queue.Run, b BackfillPage) error {
	if b.Application == "" || b.StartTime.IsZero() {
		return greep.Errorf(greep.EINVALID, "backfill task without an application or start time")
	}
	return w.settle(w.BackfillPage(ctx, b))
}

// settle says what happens after a failed Reports call: after the quota reset when the
// daily budget or Google's daily limit is spent, with the queue's backoff when Google
// asks to slow down, never again when Google refuses the request itself. Other failures
// (the store's) are retried.
func (w *Worker) settle(err error) error {
	var ge *googleapi.Error
	if err == nil || (!errors.As(err, &ge) && !errors.Is(err, quota.ErrExhausted)) {
		return err
	}
	v := quota.Classifier(w.days).Classify(err, w.now())
	switch v.Action {
	case syncplan.Reschedule:
		return queue.RetryAfter(v.ResetAt, v.Reason, err)
	case syncplan.Gone, syncplan.Fail:
		return queue.Terminal(err)
	default:
		// One task's failure is never a 503, which Cloud Tasks reads as "slow the whole
		// queue down".
		status := v.Status
		if status == http.StatusServiceUnavailable {
			status = http.StatusInternalServerError
		}
		return &queue.RetryError{Status: status, Reason: v.Reason, Err: err}
	}
}

func (w *Worker) serveCron(rw http.ResponseWriter, r *http.Request) {
	if err := w.Tick(r.Context()); err != nil {
		googleerror.Write(rw, http.StatusInternalServerError, "backendError", err.Error())
		return
	}
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(rw).Encode(map[string]any{"ok": true})
}
