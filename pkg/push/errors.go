package push

import (
	"encoding/json"
	"net/http"

	"github.com/greephq/greep/pkg/greep"
)

// googleError is Google's error JSON, which every Greep HTTP surface answers with.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// statusOf maps greep's error codes to HTTP statuses and Google's error reasons.
func statusOf(code string) (int, string) {
	switch code {
	case greep.EINVALID:
		return http.StatusBadRequest, "invalid"
	case greep.EUNAUTHORIZED:
		return http.StatusUnauthorized, "authError"
	case greep.EFORBIDDEN:
		return http.StatusForbidden, "forbidden"
	case greep.ENOTFOUND:
		return http.StatusNotFound, "notFound"
	case greep.ECONFLICT:
		return http.StatusConflict, "duplicate"
	case greep.ETOOLARGE:
		return http.StatusRequestEntityTooLarge, "requestTooLarge"
	default:
		return http.StatusInternalServerError, "backendError"
	}
}

// writeError answers err in Google's error shape. A 5xx makes Google redeliver the
// notification (with backoff); a 4xx makes it give up on that message, which is right for
// anything a retry cannot fix.
func writeError(w http.ResponseWriter, status int, reason, msg string) {
	var e googleError
	e.Error.Code = status
	e.Error.Message = msg
	e.Error.Errors = append(e.Error.Errors, struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}{reason, msg})
	b, _ := json.Marshal(e) // strings and ints only: cannot fail
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
