// Package googleerror writes Google's error JSON, the one error shape every Greep HTTP
// surface answers with, so a client written against Google's APIs (and the official
// google.golang.org/api clients, which decode it into *googleapi.Error) reads Greep's
// errors the same way:
//
//	{"error":{"code":404,"message":"...","errors":[{"reason":"notFound","message":"..."}]}}
package googleerror

import (
	"encoding/json"
	"net/http"

	"github.com/greephq/greep/pkg/greep"
)

// Body is Google's error JSON. Tests and clients decode answers into it.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the body's "error" object.
type Detail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Errors  []Item `json:"errors"`
}

// Item is one entry of "errors"; Reason is what clients branch on (notFound, forbidden…).
type Item struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// Domain is "global" for the errors Greep writes, as Google's own are.
	Domain string `json:"domain,omitempty"`
}

// Write answers with status code and Google's error JSON carrying reason and message.
func Write(w http.ResponseWriter, code int, reason, message string) {
	b, _ := json.Marshal(Body{Error: Detail{Code: code, Message: message, Errors: []Item{{Reason: reason, Message: message, Domain: "global"}}}}) // strings and an int: cannot fail
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	// A browser must not sniff an error echoing request data into something executable.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// WriteErr answers err by its greep error code (see Status) and message. An internal
// error, or one that is no *greep.Error, is answered 500 with a generic message: its
// details may name hosts, keys or stack state, and belong in the caller's logs.
func WriteErr(w http.ResponseWriter, err error) {
	code, reason := Status(greep.ErrorCode(err))
	msg := greep.ErrorMessage(err)
	if code == http.StatusInternalServerError {
		msg = internalMessage
	}
	Write(w, code, reason, msg)
}

// internalMessage is what a client sees of any internal error.
const internalMessage = "internal error"

// Status maps a greep error code to the HTTP status and Google's reason for it; an
// unknown code (and EINTERNAL) is 500 backendError.
func Status(code string) (status int, reason string) {
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
	case greep.EGONE:
		return http.StatusGone, "gone"
	default:
		return http.StatusInternalServerError, "backendError"
	}
}
