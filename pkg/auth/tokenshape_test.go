package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
)

// iapKid names the P-256 key served in place of Google's IAP keys.
const iapKid = "iap-key-1"

// newIAPValidator is a real idtoken validator whose IAP key set (fetched for ES256
// tokens) holds one P-256 key named iapKid.
func newIAPValidator(t *testing.T) *idtoken.Validator {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/iap/verify/public_key-jwk" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "EC", "alg": "ES256", "crv": "P-256", "use": "sig", "kid": iapKid,
			"x": base64.RawURLEncoding.EncodeToString(k.X.FillBytes(make([]byte, 32))),
			"y": base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, 32))),
		}}})
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: redirect{u}}))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hostileToken is the token of the finding: ES256, the kid of an IAP key, a valid
// audience and expiry, and a signature shorter than ES256's 64 bytes.
func hostileToken(sigLen int) string {
	return b64json(map[string]string{"alg": "ES256", "typ": "JWT", "kid": iapKid}) + "." +
		b64json(claims("slack-sync@proj.iam.gserviceaccount.com", time.Now().Add(time.Hour), audience)) + "." +
		base64.RawURLEncoding.EncodeToString(make([]byte, sigLen))
}

// The idtoken library indexes sig[:32] of an ES256 token without checking its length: this
// token panicked inside Authenticate (a 500 and a stack trace per request).
func TestHostileES256TokenIs401(t *testing.T) {
	cl, err := auth.ParseClients(strings.NewReader(clientsYAML))
	if err != nil {
		t.Fatal(err)
	}
	a := auth.NewIDToken(cl, newIAPValidator(t))
	for _, n := range []int{1, 16, 31} {
		_, err := a.Authenticate(context.Background(), hostileToken(n))
		if greep.ErrorCode(err) != greep.EUNAUTHORIZED {
			t.Fatalf("signature of %d bytes: err = %v, want unauthorized", n, err)
		}
		rec := httptest.NewRecorder()
		googleerror.WriteErr(rec, err)
		var body struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if rec.Code != http.StatusUnauthorized || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code != 401 {
			t.Fatalf("answer %d %s, want 401 with Google's error JSON", rec.Code, rec.Body)
		}
	}
}

// A verifier that panics on a shape CheckTokenShape lets through still costs a 401.
func TestPanickingVerifierIs401(t *testing.T) {
	cl, err := auth.ParseClients(strings.NewReader(clientsYAML))
	if err != nil {
		t.Fatal(err)
	}
	a := auth.NewIDToken(cl, panicking{})
	tok := b64json(map[string]string{"alg": "RS256", "kid": "k"}) + "." + b64json(map[string]any{"aud": audience}) + "." +
		base64.RawURLEncoding.EncodeToString(make([]byte, 256))
	if _, err := a.Authenticate(context.Background(), tok); greep.ErrorCode(err) != greep.EUNAUTHORIZED {
		t.Fatalf("err = %v, want unauthorized", err)
	}
}

type panicking struct{}

func (panicking) Validate(context.Context, string, string) (*idtoken.Payload, error) {
	var sig []byte
	_ = sig[:32]
	return nil, nil
}

func TestCheckTokenShape(t *testing.T) {
	hdr := b64json(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k"})
	body := b64json(map[string]any{"aud": audience})
	sig := base64.RawURLEncoding.EncodeToString(make([]byte, 256))
	if err := auth.CheckTokenShape(hdr + "." + body + "." + sig); err != nil {
		t.Fatalf("a well-shaped RS256 token refused: %v", err)
	}
	for name, tok := range map[string]string{
		"ES256":              hostileToken(16),
		"ES256 full length":  hostileToken(64),
		"none":               b64json(map[string]string{"alg": "none", "kid": "k"}) + "." + body + "." + sig,
		"HS256":              b64json(map[string]string{"alg": "HS256", "kid": "k"}) + "." + body + "." + sig,
		"two parts":          hdr + "." + body,
		"four parts":         hdr + "." + body + "." + sig + "." + sig,
		"padded":             hdr + "." + body + "." + base64.URLEncoding.EncodeToString(make([]byte, 256)),
		"std alphabet":       hdr + "." + body + "." + strings.ReplaceAll(sig, "A", "+"),
		"short RS256 sig":    hdr + "." + body + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 255)),
		"empty signature":    hdr + "." + body + ".",
		"no kid":             b64json(map[string]string{"alg": "RS256"}) + "." + body + "." + sig,
		"extra header field": b64json(map[string]string{"alg": "RS256", "kid": "k", "jku": "https://evil.example/keys"}) + "." + body + "." + sig,
		"header not JSON":    base64.RawURLEncoding.EncodeToString([]byte("{alg")) + "." + body + "." + sig,
		"trailing header":    base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k"}{}`)) + "." + body + "." + sig,
		"payload an array":   hdr + "." + b64json([]int{1}) + "." + sig,
		"payload null":       hdr + "." + base64.RawURLEncoding.EncodeToString([]byte("null")) + "." + sig,
		"huge":               hdr + "." + strings.Repeat("A", 20000) + "." + sig,
	} {
		if err := auth.CheckTokenShape(tok); greep.ErrorCode(err) != greep.EUNAUTHORIZED {
			t.Errorf("%s: err = %v, want unauthorized", name, err)
		}
	}
}
