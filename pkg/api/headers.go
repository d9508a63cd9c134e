package api

import "net/http"

// noSniff marks every answer (JSON, errors, the dashboard, the login form) as exactly
// what its Content-Type says, so no browser renders a JSON answer holding a crafted
// group name as HTML.
func noSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = nosniffValue
		next.ServeHTTP(w, r)
	})
}

// privateAnswers marks the answers of authenticated routes, which depend on the client's
// scopes and groups, as neither for shared caches nor for storing at all: a proxy must not
// hand one client's answer to another, nor a browser keep members on disk.
func privateAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = privateValue
		next.ServeHTTP(w, r)
	})
}

// Header values set on every answer are shared, not made per request (Header.Set makes a
// slice each time). A slice of one element with no spare capacity is safe to share: Add
// appends to a copy.
var (
	nosniffValue = []string{"nosniff"}
	privateValue = []string{"private, no-store"}
	jsonValue    = []string{"application/json; charset=UTF-8"}
)
