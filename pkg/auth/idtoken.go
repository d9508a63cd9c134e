package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/idtoken"
	"gopkg.in/yaml.v3"

	"github.com/greephq/greep/pkg/greep"
)

// Clients is deploy/clients.yaml: who may call the production read API and what each may
// read.
type Clients struct {
	// Audience is the value the ID tokens' aud claim must carry (the service's URL, as
	// idtoken.NewTokenSource(ctx, audience) is given by the caller).
	Audience string   `yaml:"audience"`
	Clients  []Client `yaml:"clients"`
}

// Client is one allowed caller, identified by the email claim of its ID token (a service
// account, usually).
type Client struct {
	Email  string   `yaml:"email"`
	Scopes []string `yaml:"scopes"`
	// Groups, when set, limits the client to groups whose address matches one of these
	// patterns ("*@eng.example.com", "vpn-*@example.com").
	Groups []string `yaml:"groups,omitempty"`
}

// LoadClients reads and checks a clients file.
func LoadClients(name string) (*Clients, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("clients file: %w", err)
	}
	defer f.Close()
	c, err := ParseClients(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("clients file %s: %w", name, err)
	}
	return c, nil
}

// ParseClients decodes a clients file, refusing unknown fields, unknown scopes, bad
// patterns and duplicate clients so that a typo cannot silently grant or withhold access.
func ParseClients(r io.Reader) (*Clients, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var c Clients
	if err := dec.Decode(&c); err != nil {
		return nil, greep.Errorf(greep.EINVALID, "decoding: %v", err)
	}
	if c.Audience == "" {
		return nil, greep.Errorf(greep.EINVALID, "audience is required")
	}
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		email := strings.ToLower(strings.TrimSpace(cl.Email))
		if email == "" || !strings.Contains(email, "@") {
			return nil, greep.Errorf(greep.EINVALID, "clients[%d]: email %q is not an address", i, cl.Email)
		}
		if seen[email] {
			return nil, greep.Errorf(greep.EINVALID, "clients[%d]: %s is listed twice", i, email)
		}
		seen[email] = true
		if len(cl.Scopes) == 0 {
			return nil, greep.Errorf(greep.EINVALID, "clients[%d] (%s): no scopes", i, email)
		}
		for _, s := range cl.Scopes {
			if !slices.Contains(AllScopes, s) {
				return nil, greep.Errorf(greep.EINVALID, "clients[%d] (%s): unknown scope %q (known: %s)", i, email, s, strings.Join(AllScopes, ", "))
			}
		}
		for _, g := range cl.Groups {
			if _, err := pathMatchCheck(g); err != nil {
				return nil, greep.Errorf(greep.EINVALID, "clients[%d] (%s): group pattern %q: %v", i, email, g, err)
			}
		}
		c.Clients[i].Email = email
	}
	return &c, nil
}

// TokenValidator checks a Google ID token's signature, expiry and audience;
// *idtoken.Validator is the production one.
type TokenValidator interface {
	Validate(ctx context.Context, token, audience string) (*idtoken.Payload, error)
}

// googleIssuers are the issuers of Google-signed ID tokens. idtoken.Validate checks the
// signature, expiry and audience but not the issuer, so it is checked here.
var googleIssuers = []string{"accounts.google.com", "https://accounts.google.com"}

// IDToken authenticates Google-signed ID tokens of allowed clients.
type IDToken struct {
	validator TokenValidator
	audience  string
	clients   map[string]*Principal
	now       func() time.Time

	// Verified tokens are remembered until they expire, so a client that reuses its token
	// (as idtoken's token source does, for about an hour) pays the RSA check once.
	mu    sync.Mutex
	cache map[[32]byte]cachedPrincipal
}

type cachedPrincipal struct {
	p   *Principal
	exp time.Time
}

// maxCachedTokens bounds the verified-token cache; it is cleared when full.
const maxCachedTokens = 4096

// NewIDToken returns the production authenticator. v is usually the result of
// idtoken.NewValidator(ctx).
func NewIDToken(c *Clients, v TokenValidator) *IDToken {
	a := &IDToken{validator: v, audience: c.Audience, clients: map[string]*Principal{}, now: time.Now, cache: map[[32]byte]cachedPrincipal{}}
	for _, cl := range c.Clients {
		a.clients[cl.Email] = NewPrincipal(cl.Email, cl.Scopes, cl.Groups)
	}
	return a
}

// Authenticate implements Authenticator.
func (a *IDToken) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, greep.Errorf(greep.EUNAUTHORIZED, "Login Required: send Authorization: Bearer <Google-signed ID token>")
	}
	key := sha256.Sum256([]byte(token))
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[key]
	a.mu.Unlock()
	if ok && now.Before(c.exp) {
		return c.p, nil
	}

	if err := CheckTokenShape(token); err != nil {
		return nil, err
	}
	payload, err := a.validate(ctx, token)
	if err != nil {
		return nil, greep.Errorf(greep.EUNAUTHORIZED, "Invalid Credentials: %v", err)
	}
	if !slices.Contains(googleIssuers, payload.Issuer) {
		return nil, greep.Errorf(greep.EUNAUTHORIZED, "Invalid Credentials: issuer %q is not Google", payload.Issuer)
	}
	email, _ := payload.Claims["email"].(string)
	verified, _ := payload.Claims["email_verified"].(bool)
	if email == "" || !verified {
		return nil, greep.Errorf(greep.EUNAUTHORIZED, "Invalid Credentials: the ID token carries no verified email (mint it with the service account's identity)")
	}
	p, ok := a.clients[strings.ToLower(email)]
	if !ok {
		return nil, greep.Errorf(greep.EFORBIDDEN, "client %s is not allowed to use this API", email)
	}
	a.mu.Lock()
	if len(a.cache) >= maxCachedTokens {
		clear(a.cache)
	}
	a.cache[key] = cachedPrincipal{p: p, exp: time.Unix(payload.Expires, 0)}
	a.mu.Unlock()
	return p, nil
}

// validate runs the validator, turning a panic into an error: CheckTokenShape refuses the
// shapes known to crash google.golang.org/api/idtoken, and this is the last line against
// one not yet known, so a hostile token costs a 401, not a 500 and a stack trace.
func (a *IDToken) validate(ctx context.Context, token string) (p *idtoken.Payload, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("the token could not be verified (verifier panicked: %v)", r)
		}
	}()
	return a.validator.Validate(ctx, token, a.audience)
}
