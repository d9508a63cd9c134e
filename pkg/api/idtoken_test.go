package api_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
)

// TestIDTokensOverHTTP runs the production authenticator in front of the API: ID tokens
// signed by a test key, verified by google.golang.org/api/idtoken against that key's
// certificates served in place of Google's.
func TestIDTokensOverHTTP(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	certs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	}))
	defer certs.Close()
	cu, _ := url.Parse(certs.URL)
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: rewrite{cu}}))
	if err != nil {
		t.Fatal(err)
	}
	clients, err := auth.ParseClients(strings.NewReader(`
audience: https://greep.test
clients:
  - email: vpn@p.iam.gserviceaccount.com
    scopes: [groups.read]
`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Config{Store: newEnv(t, 50, 60).store, Auth: auth.NewIDToken(clients, v)})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(email, aud string, exp time.Time) string {
		enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		s := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(map[string]any{
			"iss": "https://accounts.google.com", "aud": aud, "email": email, "email_verified": true, "sub": "1", "iat": time.Now().Unix(), "exp": exp.Unix()})
		d := sha256.Sum256([]byte(s))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return s + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	hour := time.Now().Add(time.Hour)
	for _, c := range []struct {
		name, token, path string
		code              int
	}{
		{"no token", "", "/v1/groups", 401},
		{"wrong token", "not-a-jwt", "/v1/groups", 401},
		{"expired", sign("vpn@p.iam.gserviceaccount.com", "https://greep.test", time.Now().Add(-time.Minute)), "/v1/groups", 401},
		{"wrong audience", sign("vpn@p.iam.gserviceaccount.com", "https://elsewhere.test", hour), "/v1/groups", 401},
		{"unlisted client", sign("intruder@p.iam.gserviceaccount.com", "https://greep.test", hour), "/v1/groups", 403},
		{"outside its scope", sign("vpn@p.iam.gserviceaccount.com", "https://greep.test", hour), "/v1/status", 403},
		{"allowed", sign("vpn@p.iam.gserviceaccount.com", "https://greep.test", hour), "/admin/directory/v1/groups?customer=my_customer", 200},
	} {
		r := httptest.NewRequest("GET", c.path, nil)
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.code)
		}
		if c.code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
		if c.code != 200 && !strings.Contains(w.Body.String(), `"errors":[{`) {
			t.Errorf("%s: not Google's error JSON: %s", c.name, w.Body)
		}
	}
}

type rewrite struct{ to *url.URL }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	return http.DefaultTransport.RoundTrip(req)
}
