package auth_test

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

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
)

const audience = "https://greep.example.com"

// testIssuer signs ID tokens with a test RSA key and serves the key the way
// https://www.googleapis.com/oauth2/v3/certs does, so tokens go through idtoken's real
// verification path.
type testIssuer struct {
	key *rsa.PrivateKey
	kid string
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &testIssuer{key: k, kid: "test-key-1"}
}

func (is *testIssuer) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": is.kid}) + "." + enc(claims)
	h := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, is.key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// JWKS serves the public key and counts fetches.
func (is *testIssuer) handler(fetches *int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/v3/certs" {
			http.NotFound(w, r)
			return
		}
		*fetches++
		pub := is.key.PublicKey
		w.Header().Set("Cache-Control", "public, max-age=3600")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": is.kid,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
}

// redirect sends every request (idtoken fetches https://www.googleapis.com/...) to srv.
type redirect struct{ to *url.URL }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	return http.DefaultTransport.RoundTrip(req)
}

func newValidator(t testing.TB, is *testIssuer) (*idtoken.Validator, *int) {
	t.Helper()
	fetches := new(int)
	srv := httptest.NewServer(is.handler(fetches))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: redirect{u}}))
	if err != nil {
		t.Fatal(err)
	}
	return v, fetches
}

const clientsYAML = `
audience: https://greep.example.com
clients:
  - email: slack-sync@proj.iam.gserviceaccount.com
    scopes: [groups.read]
    groups: ["*@eng.example.com"]
  - email: Security@proj.iam.gserviceaccount.com
    scopes: [groups.read, history.read, findings.read, status.read]
`

func claims(email string, exp time.Time, aud string) map[string]any {
	return map[string]any{
		"iss": "https://accounts.google.com", "aud": aud, "sub": "1234",
		"email": email, "email_verified": true,
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": exp.Unix(),
	}
}

func TestIDToken(t *testing.T) {
	is := newTestIssuer(t)
	v, fetches := newValidator(t, is)
	cl, err := auth.ParseClients(strings.NewReader(clientsYAML))
	if err != nil {
		t.Fatal(err)
	}
	a := auth.NewIDToken(cl, v)
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)
	other := newTestIssuer(t) // same kid, different key: a forged signature

	cases := []struct {
		name  string
		token string
		code  string
	}{
		{"no token", "", greep.EUNAUTHORIZED},
		{"not a JWT", "hello", greep.EUNAUTHORIZED},
		{"expired", is.sign(t, claims("slack-sync@proj.iam.gserviceaccount.com", time.Now().Add(-time.Minute), audience)), greep.EUNAUTHORIZED},
		{"wrong audience", is.sign(t, claims("slack-sync@proj.iam.gserviceaccount.com", hour, "https://other.example.com")), greep.EUNAUTHORIZED},
		{"signed by another key", other.sign(t, claims("slack-sync@proj.iam.gserviceaccount.com", hour, audience)), greep.EUNAUTHORIZED},
		{"not Google's issuer", is.sign(t, func() map[string]any {
			c := claims("slack-sync@proj.iam.gserviceaccount.com", hour, audience)
			c["iss"] = "https://evil.example.com"
			return c
		}()), greep.EUNAUTHORIZED},
		{"unverified email", is.sign(t, func() map[string]any {
			c := claims("slack-sync@proj.iam.gserviceaccount.com", hour, audience)
			c["email_verified"] = false
			return c
		}()), greep.EUNAUTHORIZED},
		{"unknown client", is.sign(t, claims("stranger@proj.iam.gserviceaccount.com", hour, audience)), greep.EFORBIDDEN},
		{"allowed client", is.sign(t, claims("slack-sync@proj.iam.gserviceaccount.com", hour, audience)), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(ctx, tc.token)
			if got := greep.ErrorCode(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			if tc.code != "" {
				return
			}
			if p.Client != "slack-sync@proj.iam.gserviceaccount.com" || !p.Can(auth.ScopeGroups) || p.Can(auth.ScopeHistory) {
				t.Errorf("principal %+v has the wrong identity or scopes", p)
			}
			if !p.CanSeeGroup("vpn@eng.example.com") || p.CanSeeGroup("payroll@example.com") {
				t.Errorf("group patterns not applied")
			}
		})
	}

	// Case-insensitive client emails; the verified token is cached, certs fetched once.
	tok := is.sign(t, claims("security@proj.iam.gserviceaccount.com", hour, audience))
	for range 3 {
		p, err := a.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Can(auth.ScopeStatus) || !p.CanSeeGroup("payroll@example.com") {
			t.Errorf("security client lacks its scopes: %+v", p)
		}
	}
	if *fetches != 1 {
		t.Errorf("certs fetched %d times, want 1 (cached by max-age)", *fetches)
	}
}

func TestStaticToken(t *testing.T) {
	if _, err := auth.NewStaticToken(""); err == nil {
		t.Fatal("empty token accepted")
	}
	a, err := auth.NewStaticToken("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "s3cre", "s3cret2", "S3CRET"} {
		if _, err := a.Authenticate(context.Background(), tok); greep.ErrorCode(err) != greep.EUNAUTHORIZED {
			t.Errorf("token %q: err = %v, want unauthorized", tok, err)
		}
	}
	p, err := a.Authenticate(context.Background(), "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range auth.AllScopes {
		if !p.Can(s) {
			t.Errorf("static token lacks %s", s)
		}
	}
}

func TestParseClientsRejects(t *testing.T) {
	for name, y := range map[string]string{
		"no audience":   "clients: []\n",
		"unknown field": "audience: a\nclients:\n  - email: a@b.c\n    scopes: [groups.read]\n    scope: x\n",
		"unknown scope": "audience: a\nclients:\n  - email: a@b.c\n    scopes: [groups.write]\n",
		"no scopes":     "audience: a\nclients:\n  - email: a@b.c\n",
		"bad email":     "audience: a\nclients:\n  - email: nobody\n    scopes: [groups.read]\n",
		"duplicate":     "audience: a\nclients:\n  - email: a@b.c\n    scopes: [groups.read]\n  - email: A@b.c\n    scopes: [status.read]\n",
		"bad pattern":   "audience: a\nclients:\n  - email: a@b.c\n    scopes: [groups.read]\n    groups: [\"[x\"]\n",
		"not yaml":      "{{{",
	} {
		if _, err := auth.ParseClients(strings.NewReader(y)); greep.ErrorCode(err) != greep.EINVALID {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
}

func TestDeployClientsFile(t *testing.T) {
	c, err := auth.LoadClients("../../deploy/clients.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Audience == "" || len(c.Clients) == 0 {
		t.Fatalf("deploy/clients.yaml is empty: %+v", c)
	}
}
