package syncplan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/api/googleapi"
)

// Action is what the worker does with a failed call.
type Action int

const (
	// Retry answers the task non-2xx so the queue retries it with backoff: the failure
	// is short-lived (a rate limit, a server error, a timeout).
	Retry Action = iota + 1
	// Reschedule queues a copy of the task after ResetAt and answers 2xx: the daily quota
	// (or the budget guard's share of it) is spent, and retrying before the reset only
	// burns attempts.
	Reschedule
	// Gone means the group no longer exists: drop it from the cache.
	Gone
	// Fail records the failure for the status page and answers 2xx: retrying a bad
	// request or a permission error cannot fix it.
	Fail
)

func (a Action) String() string {
	switch a {
	case Retry:
		return "retry"
	case Reschedule:
		return "reschedule"
	case Gone:
		return "gone"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Verdict is the classification of one failed call.
type Verdict struct {
	Action Action
	// Status is the HTTP status the task handler answers with for Retry: 429 for rate
	// limits (which the dispatcher slows down on), 503 for upstream trouble.
	Status int
	// ResetAt is when to run the rescheduled copy (Reschedule only).
	ResetAt time.Time
	Reason  string
}

// Resetter is implemented by errors that know when a spent quota comes back: the daily
// budget guard's refusal of background work.
type Resetter interface {
	error
	ResetAt() time.Time
}

// Classifier classifies failed Directory calls.
type Classifier struct {
	// NextReset gives the end of the quota day a time falls in, for Google's
	// dailyLimitExceeded, which carries no reset time.
	NextReset func(time.Time) time.Time
	// Refused recognises the daily budget guard's refusal and its reset time (besides
	// errors implementing Resetter). Optional.
	Refused func(error) (time.Time, bool)
}

// Classify decides how to handle err from a Directory call made at now.
func (c Classifier) Classify(err error, now time.Time) Verdict {
	if c.Refused != nil {
		if at, ok := c.Refused(err); ok {
			return Verdict{Action: Reschedule, ResetAt: at, Reason: "budget"}
		}
	}
	return Classify(err, now, c.NextReset)
}

// Classify decides how to handle err from a Directory call made at now; nextReset gives
// the end of the quota day that now falls in (for Google's dailyLimitExceeded, which
// carries no reset time).
func Classify(err error, now time.Time, nextReset func(time.Time) time.Time) Verdict {
	var rs Resetter
	if errors.As(err, &rs) {
		return Verdict{Action: Reschedule, ResetAt: rs.ResetAt(), Reason: "budget"}
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return classifyGoogle(ge, now, nextReset)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Verdict{Action: Retry, Status: http.StatusServiceUnavailable, Reason: "timeout"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Verdict{Action: Retry, Status: http.StatusServiceUnavailable, Reason: "timeout"}
	}
	// Connection refused, reset, a cancelled context on shutdown: all worth another try.
	return Verdict{Action: Retry, Status: http.StatusServiceUnavailable, Reason: "transport"}
}

func classifyGoogle(ge *googleapi.Error, now time.Time, nextReset func(time.Time) time.Time) Verdict {
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	switch reason {
	case "dailyLimitExceeded", "dailyLimitExceededUnreg":
		return Verdict{Action: Reschedule, ResetAt: nextReset(now), Reason: reason}
	case "userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded":
		return Verdict{Action: Retry, Status: http.StatusTooManyRequests, Reason: reason}
	case "backendError", "internalError":
		return Verdict{Action: Retry, Status: http.StatusServiceUnavailable, Reason: reason}
	}
	switch {
	case ge.Code == http.StatusTooManyRequests:
		return Verdict{Action: Retry, Status: http.StatusTooManyRequests, Reason: orDefault(reason, "rateLimitExceeded")}
	case ge.Code >= 500:
		return Verdict{Action: Retry, Status: http.StatusServiceUnavailable, Reason: orDefault(reason, "backendError")}
	case ge.Code == http.StatusNotFound:
		return Verdict{Action: Gone, Reason: orDefault(reason, "notFound")}
	case ge.Code == http.StatusRequestTimeout:
		return Verdict{Action: Retry, Status: http.StatusServiceUnavailable, Reason: orDefault(reason, "timeout")}
	}
	return Verdict{Action: Fail, Reason: orDefault(reason, http.StatusText(ge.Code))}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
