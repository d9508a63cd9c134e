package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
)

// A browser cannot send a bearer token, so the dashboard also takes the token from a
// cookie, set by a small login form. The cookie is honoured only for the dashboard (a
// GET that changes nothing, so cross-site requests gain nothing); the API routes take
// the Authorization header only.
const tokenCookie = "greep_token"

// The login form carries a CSRF token, double-submitted: the form's hidden field and a
// SameSite=Strict cookie set with the form must match. Another site can post to /login
// but cannot read the form nor send the cookie, so it cannot sign a browser in under a
// token of its choosing (and have the victim's dashboard show its data).
const (
	csrfCookie = "greep_csrf"
	csrfField  = "csrf"
)

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
			s.loginPage(w, r, http.StatusUnauthorized, "")
			return
		}
		p, err := s.auth.Authenticate(r.Context(), token)
		if err != nil {
			code, _ := statusOf(greep.ErrorCode(err))
			s.loginPage(w, r, code, greep.ErrorMessage(err))
			return
		}
		if !p.Can(auth.ScopeStatus) {
			s.loginPage(w, r, http.StatusForbidden, "This client may not see the dashboard: it needs the scope "+auth.ScopeStatus+".")
			return
		}
		setPrincipal(r, p)
		next.ServeHTTP(w, r)
	})
}

// POST /login with the form fields token and csrf: checks them and keeps the token in an
// HttpOnly cookie. Attempts are rate-limited before anything is read.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if wait, ok := s.logins.allow(clientAddr(r)); !ok {
		s.writeError(w, r, errTooManyLogins(wait))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.loginPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if !csrfValid(r) {
		s.loginPage(w, r, http.StatusForbidden, "The sign-in form has expired or was not sent from this page: sign in again.")
		return
	}
	token := r.PostForm.Get("token")
	if _, err := s.auth.Authenticate(r.Context(), token); err != nil {
		code, _ := statusOf(greep.ErrorCode(err))
		s.loginPage(w, r, code, greep.ErrorMessage(err))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: secureRequest(r), MaxAge: 12 * 3600,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func secureRequest(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// csrfValid reports whether the form's CSRF field matches the cookie set with the form.
func csrfValid(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	field := r.PostForm.Get(csrfField)
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) == 1
}

// loginPage answers the sign-in form with a fresh CSRF token in it and in its cookie.
func (s *server) loginPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	b := make([]byte, 32)
	rand.Read(b)
	csrf := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: csrf, Path: "/login", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: secureRequest(r), MaxAge: 3600,
	})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="greep"`)
	}
	w.WriteHeader(status)
	templates.ExecuteTemplate(w, "login.html", struct{ Message, CSRF string }{msg, csrf})
}
