// Package callbudget enforces, at the HTTP transport every Google API client shares, the
// two rules that make a queue's dispatch rate equal its API's request rate:
//
//   - one call per task: a task handler's context carries a budget of one Google API call,
//     and a second call fails loudly instead of silently doubling the rate;
//   - every call is counted against the daily quota, and refused before it is sent when the
//     daily budget guard (pkg/quota) says so.
//
// Both are http.RoundTripper wrappers for workspace.Config.Wrap:
//
//	workspace.Config{..., Wrap: callbudget.Wrap(guard)}
//
// and task routers mount PerTask after queue.OnlyTasks, so every task request carries its
// budget (the local dispatcher attaches one itself).
package callbudget

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/greephq/greep/pkg/queue"
)

// PerTaskCalls is the budget of every task: one Google API call.
const PerTaskCalls = 1

type budget struct {
	limit int64
	used  atomic.Int64
}

type budgetKey struct{}

// WithBudget gives ctx a budget of n Google API calls, shared by everything that uses ctx.
func WithBudget(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, budgetKey{}, &budget{limit: int64(n)})
}

// HasBudget reports whether ctx carries a call budget.
func HasBudget(ctx context.Context) bool {
	_, ok := ctx.Value(budgetKey{}).(*budget)
	return ok
}

// Used returns how many calls ctx's budget has paid for (0 without a budget).
func Used(ctx context.Context) int {
	if b, ok := ctx.Value(budgetKey{}).(*budget); ok {
		return int(b.used.Load())
	}
	return 0
}

// PerTask gives every task request (queue.InfoFrom) a budget of one call, unless it
// already has one. Mount it after queue.OnlyTasks.
func PerTask(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := queue.InfoFrom(r.Context()); ok && !HasBudget(r.Context()) {
			r = r.WithContext(WithBudget(r.Context(), PerTaskCalls))
		}
		next.ServeHTTP(w, r)
	})
}

// ErrExceeded matches the error of a call beyond its task's budget.
var ErrExceeded = errors.New("call budget exceeded")

// ErrNoBudget matches the error of a call from a task whose context carries no budget.
var ErrNoBudget = errors.New("task without a call budget")

// Option configures the wrappers.
type Option func(*options)

type options struct {
	onViolation func(error)
	observer    CallObserver
}

// OnViolation calls fn with the error of every call the one-call rule refuses, besides
// returning it to the caller. Tests pass a function that fails the test
// (func(err error) { t.Error(err) }), so a handler that swallows the error still cannot
// hide a second call.
func OnViolation(fn func(error)) Option { return func(o *options) { o.onViolation = fn } }

// Limit wraps next with the one-call rule. A call whose context has a budget spends it and
// is refused when the budget is spent; a call from a task without a budget is refused (the
// router lacks PerTask); a call outside any task passes.
func Limit(next http.RoundTripper, opts ...Option) http.RoundTripper {
	o := options{}
	for _, f := range opts {
		f(&o)
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		ctx := r.Context()
		b, ok := ctx.Value(budgetKey{}).(*budget)
		if !ok {
			if info, isTask := queue.InfoFrom(ctx); isTask {
				return nil, o.violation(r, fmt.Errorf("callbudget: %w: task %q on queue %q called %s %s; mount callbudget.PerTask on the task router",
					ErrNoBudget, info.Name, info.Queue, r.Method, r.URL.Path))
			}
			return next.RoundTrip(r)
		}
		if n := b.used.Add(1); n > b.limit {
			return nil, o.violation(r, fmt.Errorf("callbudget: %w: call %d of a task allowed %d (%s %s): one task, one Google API call",
				ErrExceeded, n, b.limit, r.Method, r.URL.Path))
		}
		return next.RoundTrip(r)
	})
}

func (o options) violation(r *http.Request, err error) error {
	closeBody(r)
	if o.onViolation != nil {
		o.onViolation(err)
	}
	return err
}

// Reserver is the daily budget guard (pkg/quota.Guard).
type Reserver interface {
	Reserve(ctx context.Context, api, lane string) error
}

// Guard wraps next so that every call is reserved with q before it is sent: counted
// against its API's quota day, or refused with q's error. The lane is the task's queue
// ("" outside any task).
func Guard(next http.RoundTripper, q Reserver) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		api, ok := APIOf(r.URL)
		if !ok {
			closeBody(r)
			return nil, fmt.Errorf("callbudget: %s %s is not a call of a Google API Greep knows the quota of", r.Method, r.URL.Redacted())
		}
		var lane string
		if info, ok := queue.InfoFrom(r.Context()); ok {
			lane = info.Queue
		}
		if err := q.Reserve(r.Context(), api, lane); err != nil {
			closeBody(r)
			return nil, err
		}
		return next.RoundTrip(r)
	})
}

// Wrap is workspace.Config.Wrap with both rules: the budget is checked first, so a call
// refused by it spends no quota.
func Wrap(q Reserver, opts ...Option) func(http.RoundTripper) http.RoundTripper {
	o := options{}
	for _, f := range opts {
		f(&o)
	}
	return func(base http.RoundTripper) http.RoundTripper {
		if o.observer != nil {
			return Limit(observed(base, q, o.observer), opts...)
		}
		return Limit(Guard(base, q), opts...)
	}
}

// APIOf names the API a request calls, from its path: admin/directory -> directory,
// admin/reports -> reports, groups/v1 -> groupssettings. Paths, not hosts, because a
// simulator serves all three on one host.
func APIOf(u *url.URL) (string, bool) {
	p := u.Path
	switch {
	case strings.Contains(p, "/admin/directory/v1/"), strings.Contains(p, "/admin/directory_v1/"):
		return "directory", true
	case strings.Contains(p, "/admin/reports/v1/"), strings.Contains(p, "/admin/reports_v1/"):
		return "reports", true
	case strings.Contains(p, "/groups/v1/"):
		return "groupssettings", true
	}
	return "", false
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeBody honours the RoundTripper contract: the body is closed even when the request
// is refused.
func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}
