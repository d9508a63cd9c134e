package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/greephq/greep/pkg/googleerror"
)

// What a task handler returns tells the queue layer (Handle) what happens next, as
// controller-runtime's reconcile result does:
//
//	nil                   done
//	RetryAfter(at, ...)   run again at a time: a copy is enqueued for at and this run
//	                      ends 2xx (Cloud Tasks takes no retry time from a response, and
//	                      its backoff would retry into a spent daily quota)
//	*RetryError           retry with the queue's backoff (a 429 for a per-minute quota)
//	Terminal(err)         no retry can help: logged, answered 2xx
//	any other error       retried with backoff (500)

// LaterError asks for the task to run again at At.
type LaterError struct {
	At     time.Time
	Reason string
	Err    error
}

// RetryAfter asks the queue layer to run the task again at (the quota reset, say).
func RetryAfter(at time.Time, reason string, cause error) error {
	return &LaterError{At: at, Reason: reason, Err: cause}
}

func (e *LaterError) Error() string {
	msg := "run again at " + e.At.UTC().Format(time.RFC3339) + " (" + e.Reason + ")"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *LaterError) Unwrap() error { return e.Err }

// TerminalError is a failure no retry can fix.
type TerminalError struct{ Err error }

// Terminal marks err as a failure no retry can fix: the queue drops the task.
func Terminal(err error) error { return &TerminalError{Err: err} }

func (e *TerminalError) Error() string { return e.Err.Error() }
func (e *TerminalError) Unwrap() error { return e.Err }

// laterName names the copy of task name scheduled at at: a re-delivered run schedules
// the same name, which the queue de-duplicates. An unnamed task's copy is unnamed.
func laterName(name string, at time.Time) string {
	if name == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(name + "\x00" + at.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:12]) + "-later"
}

// later enqueues the copy of run that e asks for.
func later(r *http.Request, q Enqueuer, run Run, e *LaterError) error {
	if run.Queue == "" {
		return errors.New("a task run outside a queue cannot be run again later")
	}
	return q.Enqueue(r.Context(), Task{Queue: run.Queue, Name: laterName(run.Name, e.At), Path: run.Path, Body: run.Body, ScheduleTime: e.At})
}

// OnlyCron lets through only App Engine cron's requests (X-Appengine-Cron: true, trusted
// only with trustAppEngineHeaders, where the platform strips it from outside requests),
// and, with orTasks, queued tasks too. Every cron path of every service uses it.
func OnlyCron(trustAppEngineHeaders, orTasks bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, isTask := InfoFrom(r.Context())
			if (orTasks && isTask) || (trustAppEngineHeaders && r.Header.Get(HeaderCron) == "true") {
				next.ServeHTTP(w, r)
				return
			}
			googleerror.Write(w, http.StatusForbidden, "forbidden", "cron endpoints accept only App Engine cron")
		})
	}
}
