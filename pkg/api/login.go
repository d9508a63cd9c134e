package api

import (
	"context"
	"net/http"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
)

// A browser cannot send a bearer token, so the dashboard also takes the token from a
// cookie, set by a small login form. The cookie is honoured only for the dashboard (a
// GET that changes nothing, so cross-site requests gain nothing); the API routes take
// the Authorization header only.
const tokenCookie = "greep_token"

// dashboardAuth authenticates the dashboard from the Authorization header or the cookie,
// answering the login form instead of JSON when there are no valid credentials.
func (s *server) dashboardAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			if c, err := r.Cookie(tokenCookie); err == nil {
				token = c.Value
			}
		}
		if token == "" {
			s.loginPage(w, http.StatusUnauthorized, "")
			return
		}
		p, err := s.auth.Authenticate(r.Context(), token)
		if err != nil {
			code, _ := statusOf(greep.ErrorCode(err))
			s.loginPage(w, code, greep.ErrorMessage(err))
			return
		}
		if !p.Can(auth.ScopeStatus) {
			s.loginPage(w, http.StatusForbidden, "This client may not see the dashboard: it needs the scope "+auth.ScopeStatus+".")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// POST /login with the form field token: checks it and keeps it in an HttpOnly cookie.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.loginPage(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	token := r.PostForm.Get("token")
	if _, err := s.auth.Authenticate(r.Context(), token); err != nil {
		code, _ := statusOf(greep.ErrorCode(err))
		s.loginPage(w, code, greep.ErrorMessage(err))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https", MaxAge: 12 * 3600,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) loginPage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="greep"`)
	}
	w.WriteHeader(status)
	templates.ExecuteTemplate(w, "login.html", struct{ Message string }{msg})
}
