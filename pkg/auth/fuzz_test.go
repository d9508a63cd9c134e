package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
	"gopkg.in/yaml.v3"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
)

// FuzzCheckTokenShape feeds arbitrary bearer tokens to the shape check: it must refuse
// with EUNAUTHORIZED or accept, never panic, and google.golang.org/api/idtoken must then
// handle every token it accepts without panicking (checked against the real validator,
// with the certificates of a test issuer served in place of Google's).
func FuzzCheckTokenShape(f *testing.F) {
	is := newTestIssuer(f)
	// The certificates are answered in memory, with no server: a loopback server stalled
	// the fuzz worker.
	rec := httptest.NewRecorder()
	is.handler(new(int)).ServeHTTP(rec, httptest.NewRequest("GET", "/oauth2/v3/certs", nil))
	certs := rec.Body.Bytes()
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=3600"}},
			Body: io.NopCloser(bytes.NewReader(certs)), Request: r}, nil
	})}))
	if err != nil {
		f.Fatal(err)
	}
	hour := time.Now().Add(time.Hour)
	for _, seed := range []string{
		is.sign(f, claims("slack-sync@proj.iam.gserviceaccount.com", hour, audience)),
		hostileToken(1),
		hostileToken(64),
		"",
		"a.b.c",
		"..",
		b64json(map[string]string{"alg": "RS256", "kid": is.kid}) + "." + b64json(map[string]any{"aud": audience, "exp": 1 << 40}) + "." +
			base64.RawURLEncoding.EncodeToString(make([]byte, 256)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		err := auth.CheckTokenShape(tok)
		if err != nil {
			if greep.ErrorCode(err) != greep.EUNAUTHORIZED {
				t.Fatalf("error of kind %q: %v", greep.ErrorCode(err), err)
			}
			return
		}
		if n := strings.Count(tok, "."); n != 2 {
			t.Fatalf("accepted a token of %d parts", n+1)
		}
		// A panic here is a shape the check must learn to refuse.
		v.Validate(context.Background(), tok, audience)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzParseClients feeds arbitrary clients files to ParseClients: it must refuse with
// EINVALID or accept, never panic, and a file it accepts, written out, must read back
// and write out the same.
func FuzzParseClients(f *testing.F) {
	shipped, err := os.ReadFile("../../deploy/clients.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(shipped), clientsYAML, "", "{{{", "audience: a\nclients:\n  -\n",
		"audience: a\nclients:\n  - email: a@b.c\n    scopes: [groups.read]\n    groups: [\"[x\"]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := auth.ParseClients(bytes.NewReader(b))
		if err != nil {
			if greep.ErrorCode(err) != greep.EINVALID {
				t.Fatalf("error of kind %q: %v", greep.ErrorCode(err), err)
			}
			return
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := auth.ParseClients(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("accepted file does not read back: %v\n%s", err, out)
		}
		if out2, _ := yaml.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("read back differs:\n%s\n%s", out, out2)
		}
		for _, cl := range c.Clients {
			auth.NewPrincipal(cl.Email, cl.Scopes, cl.Groups).CanSeeGroup("g@example.com")
		}
	})
}
