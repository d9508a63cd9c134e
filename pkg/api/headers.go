package api

import "net/http"

// noSniff marks every answer (JSON, errors, the dashboard, the login form) as exactly
// what its Content-Type says, so no browser renders a JSON answer holding a crafted
// group name as HTML.
func noSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// privateAnswers marks the answers of authenticated routes, which depend on the client's
// scopes and groups, as neither for shared caches nor for storing at all: a proxy must not
// hand one client's answer to another, nor a browser keep members on disk.
func privateAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, no-store")
		next.ServeHTTP(w, r)
	})
}
