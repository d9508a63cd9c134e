package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/greephq/greep/pkg/greep"
)

// maxTokenLen bounds what is decoded at all; Google's ID tokens are about 1 KB.
const maxTokenLen = 16 << 10

// rs256SigLens are the RSA modulus sizes, in bytes, a Google signing key may have (2048
// to 4096 bits): an RS256 signature is exactly as long as its key's modulus.
var rs256SigLens = map[int]bool{256: true, 384: true, 512: true}

// tokenHeader is the JOSE header of a Google-signed ID token; nothing else is expected.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// CheckTokenShape refuses any token a Google-signed ID token cannot be: not three
// base64url parts, a header with another algorithm than RS256 or fields beyond alg, kid
// and typ, a payload that is not a JSON object, or a signature whose length no RSA key of
// Google's has. It runs before google.golang.org/api/idtoken sees the token, because
// the library trusts the token's shape: an ES256 token with a short signature and the kid
// of one of Google's IAP keys made it index past the signature and panic on every request.
// The error is EUNAUTHORIZED.
func CheckTokenShape(token string) error {
	if len(token) > maxTokenLen {
		return invalidToken("longer than %d bytes", maxTokenLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return invalidToken("want three base64url parts separated by '.', got %d", len(parts))
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil || len(b) == 0 {
			return invalidToken("part %d is not unpadded base64url", i+1)
		}
		raw[i] = b
	}
	var h tokenHeader
	if err := strictJSON(raw[0], &h); err != nil {
		return invalidToken("header: %v", err)
	}
	if h.Alg != "RS256" {
		return invalidToken("algorithm %q: Google signs ID tokens with RS256", h.Alg)
	}
	if h.Kid == "" {
		return invalidToken("header names no key (kid)")
	}
	if h.Typ != "" && h.Typ != "JWT" {
		return invalidToken("type %q: want JWT", h.Typ)
	}
	var claims map[string]json.RawMessage
	if err := strictJSON(raw[1], &claims); err != nil || claims == nil {
		return invalidToken("payload is not a JSON object")
	}
	if !rs256SigLens[len(raw[2])] {
		return invalidToken("an RS256 signature of %d bytes matches no RSA key of Google's", len(raw[2]))
	}
	return nil
}

// strictJSON decodes exactly one JSON value with no unknown fields and nothing after it.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

func invalidToken(format string, args ...any) error {
	return greep.Errorf(greep.EUNAUTHORIZED, "Invalid Credentials: not a Google-signed ID token: "+format, args...)
}
