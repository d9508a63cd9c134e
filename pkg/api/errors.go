package api

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
)

// httpError is an error with Google's reason when greep's codes are too coarse (a missing
// parameter is "required", not "invalid"; a write on the read-only surface is 405).
type httpError struct {
	status  int
	reason  string
	message string
	// retryAfter, in seconds, tells a client refused for load when to come back.
	retryAfter string
}

func (e *httpError) Error() string { return e.reason + ": " + e.message }

func errRequired(param string) error {
	return &httpError{status: http.StatusBadRequest, reason: "required", message: "Required parameter: " + param}
}

func errInvalid(format string, args ...any) error {
	return greep.Errorf(greep.EINVALID, format, args...)
}

// statusOf maps greep's error codes to HTTP statuses and Google's error reasons, the
// mapping every Greep HTTP surface shares.
func statusOf(code string) (int, string) { return googleerror.Status(code) }

// writeError answers err in Google's error shape, so the official clients turn it into a
// *googleapi.Error with the right Code and Errors[].Reason.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var status int
	var reason, msg string
	var he *httpError
	if errors.As(err, &he) {
		status, reason, msg = he.status, he.reason, he.message
		if he.retryAfter != "" {
			w.Header().Set("Retry-After", he.retryAfter)
		}
	} else {
		status, reason = statusOf(greep.ErrorCode(err))
		msg = greep.ErrorMessage(err)
	}
	if status >= 500 && (he == nil || he.retryAfter == "") { // shedding load is not a failure to log
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="greep"`)
	}
	writeGoogleError(w, status, reason, msg)
}

// writeGoogleError is googleerror.Write: one writer of Google's error JSON for every surface.
func writeGoogleError(w http.ResponseWriter, status int, reason, msg string) {
	googleerror.Write(w, status, reason, msg)
}
