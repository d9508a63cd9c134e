// Package queue is how Greep's services hand work to each other: a task names a queue
// (one per Google API lane, from queues.yaml), a handler path, a JSON body and, for
// de-duplication, a name. Cloud Tasks runs them in production (pkg/queue/cloudtasks) and an
// in-process dispatcher with the same semantics runs them locally (pkg/queue/local).
package queue

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/greephq/greep/pkg/googleerror"
)

// Task is one unit of work: one handler call, which makes at most one Google API call.
type Task struct {
	// Queue is the queues.yaml queue (lane) that paces the task.
	Queue string
	// Name, when set, de-duplicates: a second task of the same name on the same queue is
	// refused while the first is queued and for a while after it ran, as on Cloud Tasks.
	// Use only letters, digits, '-' and '_'; derive it from the work item (hashed), never
	// from a timestamp prefix.
	Name string
	// Path is the handler's path, e.g. /tasks/directory/group.
	Path string
	// Body is the request body (JSON), sent with POST.
	Body []byte
	// ScheduleTime delays the task; zero means now.
	ScheduleTime time.Time
}

// Enqueuer puts tasks on queues. A named task that is already queued (or ran recently) is
// not an error: Enqueue returns nil and does nothing.
type Enqueuer interface {
	Enqueue(ctx context.Context, t Task) error
}

// Info describes the task a handler is running.
type Info struct {
	Queue          string
	Name           string
	RetryCount     int // attempts before this one
	ExecutionCount int // earlier attempts that reached the handler
}

type infoKey struct{}

// WithInfo marks ctx as the context of a task run. Only the local dispatcher and the
// App Engine header check below call it, so a request from outside can never carry it.
func WithInfo(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the task a request runs, if it is a task at all.
func InfoFrom(ctx context.Context) (Info, bool) {
	info, ok := ctx.Value(infoKey{}).(Info)
	return info, ok
}

// Headers App Engine sets on task requests and strips from requests that come from
// outside, which is what makes them trustworthy there (and only there).
const (
	HeaderQueueName      = "X-AppEngine-QueueName"
	HeaderTaskName       = "X-AppEngine-TaskName"
	HeaderRetryCount     = "X-AppEngine-TaskRetryCount"
	HeaderExecutionCount = "X-AppEngine-TaskExecutionCount"
	HeaderCron           = "X-Appengine-Cron"
)

// OnlyTasks lets through only requests that are task runs and answers any other caller
// 403. With trustAppEngineHeaders (set only when running on App Engine, where the platform
// strips these headers from outside requests) the App Engine task headers mark a task;
// locally only the in-process dispatcher's context does.
func OnlyTasks(trustAppEngineHeaders bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := InfoFrom(r.Context()); ok {
				next.ServeHTTP(w, r)
				return
			}
			if trustAppEngineHeaders && r.Header.Get(HeaderQueueName) != "" {
				info := Info{
					Queue:          r.Header.Get(HeaderQueueName),
					Name:           r.Header.Get(HeaderTaskName),
					RetryCount:     atoi(r.Header.Get(HeaderRetryCount)),
					ExecutionCount: atoi(r.Header.Get(HeaderExecutionCount)),
				}
				next.ServeHTTP(w, r.WithContext(WithInfo(r.Context(), info)))
				return
			}
			googleerror.Write(w, http.StatusForbidden, "forbidden", "task endpoints accept only queued tasks")
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
