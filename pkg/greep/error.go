package greep

import (
	"errors"
	"fmt"
)

// Error codes: the small set of kinds every package uses and the HTTP edge maps to status
// codes and Google's error reasons.
const (
	EINVALID      = "invalid"      // 400 invalid
	EUNAUTHORIZED = "unauthorized" // 401 authError
	EFORBIDDEN    = "forbidden"    // 403 forbidden
	ENOTFOUND     = "not_found"    // 404 notFound
	ECONFLICT     = "conflict"     // 409 duplicate
	ETOOLARGE     = "too_large"    // 413 requestTooLarge
	EGONE         = "gone"         // 410 gone: what was asked for is past retention
	EINTERNAL     = "internal"     // 500 backendError
)

// Error is an error of a known kind, with a message fit to show a client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is(err, greep.ErrNotFound) match any *Error of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrNotFound = &Error{Code: ENOTFOUND}
	ErrInvalid  = &Error{Code: EINVALID}
	ErrConflict = &Error{Code: ECONFLICT}
	ErrGone     = &Error{Code: EGONE}
)

// Errorf returns an *Error of the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: an *Error's message, or a generic
// text for anything else (internal details stay in the logs).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
