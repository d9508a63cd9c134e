package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
)

// MaxBody bounds a task body; the largest (a refresh with its expectations, a patch with
// its findings, a notification) is well under 64 KiB.
const MaxBody = 1 << 20

// Run is the task being handled, for rescheduling a copy of it.
type Run struct {
	Queue, Name string // from the task's Info; empty outside a queue
	Path        string // the handler path the task was posted to
	Body        []byte // the raw body, to enqueue the copy unchanged
}

// QueueOr returns the queue the task came from, or def when the handler ran outside a
// queue (a test, or a direct call).
func (r Run) QueueOr(def string) string {
	if r.Queue != "" {
		return r.Queue
	}
	return def
}

// RetryError makes Handle answer Status with Reason, so the queue retries the task with
// backoff (a 429 for a spent per-minute quota, say).
type RetryError struct {
	Status int
	Reason string
	Err    error
}

func (e *RetryError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *RetryError) Unwrap() error { return e.Err }

// Runner is the queue layer of a service's task handlers: it carries out what they
// return (see RetryAfter), enqueueing on Queue.
type Runner struct {
	Queue Enqueuer
	Log   *zap.Logger
}

// Handle serves a task path: it decodes the body into T strictly (unknown keys are a
// bug in whoever enqueued it), runs fn, and carries out what fn returns, answering the
// queue (Cloud Tasks or the local dispatcher) accordingly:
//
//	nil                      204: done
//	RetryAfter(at)           a copy of the task is enqueued for at; 204
//	*RetryError              its Status and Reason: retried with backoff
//	Terminal(err)            logged; 204, so no queue retries it
//	greep.EINVALID           400: no retry can fix the body
//	anything else            500 backendError: retried
//
// Cloud Tasks retries any non-2xx answer, but reads 503 as "slow the whole queue down",
// so a failure of one task is never answered 503.
func Handle[T any](q Runner, fn func(ctx context.Context, run Run, body T) error) http.HandlerFunc {
	log := q.Log
	if log == nil {
		log = zap.NewNop()
	}
	return func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
		if err != nil {
			googleerror.Write(w, http.StatusBadRequest, "invalid", "reading the task body: "+err.Error())
			return
		}
		if len(raw) > MaxBody {
			googleerror.Write(w, http.StatusRequestEntityTooLarge, "requestTooLarge", "task body over 1 MiB")
			return
		}
		var body T
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			googleerror.Write(w, http.StatusBadRequest, "invalid", "task body: "+err.Error())
			return
		}
		info, _ := InfoFrom(r.Context())
		run := Run{Queue: info.Queue, Name: info.Name, Path: r.URL.Path, Body: raw}
		err = fn(r.Context(), run, body)
		var (
			re   *RetryError
			le   *LaterError
			term *TerminalError
		)
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.As(err, &le):
			if err := later(r, q.Queue, run, le); err != nil {
				log.Error("task could not be scheduled to run again; the queue retries it", zap.String("path", run.Path), zap.Error(err))
				googleerror.Write(w, http.StatusInternalServerError, "backendError", "scheduling the task again: "+err.Error())
				return
			}
			log.Info("task will run again later", zap.String("path", run.Path), zap.Time("at", le.At), zap.String("reason", le.Reason), zap.Error(le.Err))
			w.WriteHeader(http.StatusNoContent)
		case errors.As(err, &re):
			log.Info("task will be retried", zap.String("path", run.Path), zap.String("reason", re.Reason), zap.Error(re.Err))
			msg := re.Reason
			if re.Err != nil {
				msg = re.Err.Error()
			}
			googleerror.Write(w, re.Status, re.Reason, msg)
		case errors.As(err, &term):
			log.Warn("task failed; not retried", zap.String("path", run.Path), zap.Error(term.Err))
			w.WriteHeader(http.StatusNoContent)
		case greep.ErrorCode(err) == greep.EINVALID:
			googleerror.Write(w, http.StatusBadRequest, "invalid", greep.ErrorMessage(err))
		default:
			log.Error("task failed; the queue retries it", zap.String("path", run.Path), zap.Error(err))
			googleerror.Write(w, http.StatusInternalServerError, "backendError", err.Error())
		}
	}
}
