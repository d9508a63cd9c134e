package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// signInForm fetches the login form as a browser does and returns its CSRF field and
// cookie.
func signInForm(t *testing.T, h http.Handler) (string, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(w.Body.Bytes())
	if m == nil {
		t.Fatalf("login form without a CSRF field: %s", w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == csrfCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("CSRF cookie not HttpOnly and SameSite=Strict: %v", c)
			}
			return string(m[1]), c
		}
	}
	t.Fatal("login form without a CSRF cookie")
	return "", nil
}

// postLogin posts the form from remote with token, csrf as the field, and the cookies.
func postLogin(h http.Handler, remote, tok, csrf string, cookies ...*http.Cookie) *http.Response {
	form := url.Values{"token": {tok}}
	if csrf != "" {
		form.Set(csrfField, csrf)
	}
	r := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	r.RemoteAddr = remote
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func signedIn(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == tokenCookie {
			return true
		}
	}
	return false
}

// A sign-in needs the form's CSRF field and the matching cookie: another site's form
// (no cookie, or its own field) signs nobody in, even with a valid token.
func TestLoginCSRF(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	csrf, cookie := signInForm(t, s.router)
	const from = "192.0.2.1:1234"
	for name, resp := range map[string]*http.Response{
		"no field, no cookie": postLogin(s.router, from, token, ""),
		"field, no cookie":    postLogin(s.router, from, token, csrf),
		"cookie, no field":    postLogin(s.router, from, token, "", cookie),
		"another field":       postLogin(s.router, from, token, "x"+csrf, cookie),
	} {
		if resp.StatusCode != http.StatusForbidden || signedIn(resp) {
			t.Errorf("%s: %d, signed in %v", name, resp.StatusCode, signedIn(resp))
		}
	}
	if resp := postLogin(s.router, from, token, csrf, cookie); resp.StatusCode != http.StatusSeeOther || !signedIn(resp) {
		t.Errorf("the form's own post: %d, signed in %v", resp.StatusCode, signedIn(resp))
	}
}

// Sign-in attempts are limited per address (429 in Google's error shape with
// Retry-After), without locking out another address; and overall.
func TestLoginRateLimit(t *testing.T) {
	s := newTestServer(t, fixture(), nil) // its clock stands still: no allowance refills
	csrf, cookie := signInForm(t, s.router)
	const guesser = "192.0.2.66:4000"
	for i := range loginAddrBurst {
		if resp := postLogin(s.router, guesser, "guess", csrf, cookie); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/login", strings.NewReader("token="+token))
	r.RemoteAddr = guesser
	s.router.ServeHTTP(w, r)
	a := answer{w.Code, w.Result().Header, w.Body.Bytes()}
	a.googleError(t, http.StatusTooManyRequests, "rateLimitExceeded")
	if a.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if resp := postLogin(s.router, "198.51.100.7:5000", token, csrf, cookie); !signedIn(resp) {
		t.Errorf("another address is locked out too: %d", resp.StatusCode)
	}
	// Many addresses together exhaust the global allowance.
	refused := 0
	for i := range loginGlobalBurst + 10 {
		resp := postLogin(s.router, fmt.Sprintf("203.0.113.%d:1", i), "guess", csrf, cookie)
		if resp.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no global limit")
	}
}

// Every answer says nosniff; answers to authenticated routes may not be stored.
func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	for _, c := range []struct {
		path   string
		hdr    []string
		stored bool // may be kept by a cache
	}{
		{"/healthz", nil, true},
		{"/v1/groups", []string{"Authorization", "Bearer " + token}, false},
		{"/v1/groups/big@example.com/members", []string{"Authorization", "Bearer " + token}, false},
		{"/admin/directory/v1/groups/big@example.com", []string{"Authorization", "Bearer " + token}, false},
		{"/v1/groups", nil, false}, // 401
		{"/", []string{"Authorization", "Bearer " + token}, false},
		{"/nowhere", nil, true},
	} {
		a := do(t, s.router, "GET", c.path, c.hdr...)
		if a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s (%d): no nosniff", c.path, a.code)
		}
		if cc := a.header.Get("Cache-Control"); !c.stored && !strings.Contains(cc, "no-store") {
			t.Errorf("%s (%d): Cache-Control %q", c.path, a.code, cc)
		}
		if cc := a.header.Get("Cache-Control"); strings.HasPrefix(c.path, "/v1") && a.code == 200 && cc != "private, no-store" {
			t.Errorf("%s: Cache-Control %q, want private, no-store", c.path, cc)
		}
	}
}
