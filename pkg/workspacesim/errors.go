package workspacesim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error the simulator answers in Google's JSON error shape, which the
// official clients turn into *googleapi.Error with Code and Errors[].Reason.
type apiError struct {
	Code    int
	Reason  string
	Domain  string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

func errorf(code int, reason, format string, args ...any) *apiError {
	domain := "global"
	switch reason {
	case "userRateLimitExceeded", "rateLimitExceeded", "dailyLimitExceeded", "quotaExceeded":
		domain = "usageLimits"
	}
	return &apiError{Code: code, Reason: reason, Domain: domain, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "invalid", format, args...)
}

func notFound(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, "notFound", format, args...)
}

// statusNames are the canonical status strings Google puts beside the code.
var statusNames = map[int]string{
	400: "INVALID_ARGUMENT",
	401: "UNAUTHENTICATED",
	403: "PERMISSION_DENIED",
	404: "NOT_FOUND",
	405: "METHOD_NOT_ALLOWED",
	409: "ALREADY_EXISTS",
	413: "INVALID_ARGUMENT",
	429: "RESOURCE_EXHAUSTED",
	500: "INTERNAL",
	503: "UNAVAILABLE",
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Errors  []errorItem `json:"errors"`
	Status  string      `json:"status,omitempty"`
}

type errorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Code, errorBody{Error: errorDetail{
		Code:    e.Code,
		Message: e.Message,
		Errors:  []errorItem{{Message: e.Message, Domain: e.Domain, Reason: e.Reason}},
		Status:  statusNames[e.Code],
	}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing useful to do
}
