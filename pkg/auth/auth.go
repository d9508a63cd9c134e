// Package auth decides who may read from Greep's API: a static token for `greep local`,
// Google-signed ID tokens checked against an allowlist of clients in production. The HTTP
// layer asks an Authenticator for a Principal and the Principal what it may do.
package auth

import (
	"context"
	"crypto/subtle"
	"path"
	"strings"

	"github.com/greephq/greep/pkg/greep"
)

// Scopes a client can hold. Each read API path needs exactly one.
const (
	ScopeGroups   = "groups.read"   // groups, members, users' groups, Directory-compatible routes
	ScopeHistory  = "history.read"  // change history
	ScopeFindings = "findings.read" // remediation findings
	ScopeStatus   = "status.read"   // /v1/status and the dashboard
)

// AllScopes lists every scope, for the static token and for validating clients.yaml.
var AllScopes = []string{ScopeGroups, ScopeHistory, ScopeFindings, ScopeStatus}

// Principal is an authenticated client and what it may read.
type Principal struct {
	// Client names the caller in logs: the service account email, or "local".
	Client string
	scopes map[string]bool
	// groups are address patterns (path.Match syntax, lower case); empty means every group.
	groups []string
}

// NewPrincipal returns a principal holding scopes, limited to groups whose address matches
// one of groupPatterns (all groups when there are none).
func NewPrincipal(client string, scopes, groupPatterns []string) *Principal {
	p := &Principal{Client: client, scopes: make(map[string]bool, len(scopes))}
	for _, s := range scopes {
		p.scopes[s] = true
	}
	for _, g := range groupPatterns {
		p.groups = append(p.groups, strings.ToLower(g))
	}
	return p
}

// Can reports whether the principal holds scope.
func (p *Principal) Can(scope string) bool { return p != nil && p.scopes[scope] }

// AllGroups reports whether the principal sees every group (no address patterns).
func (p *Principal) AllGroups() bool { return p != nil && len(p.groups) == 0 }

// CanSeeGroup reports whether the group with this address is inside the principal's
// patterns.
func (p *Principal) CanSeeGroup(email string) bool {
	if p == nil {
		return false
	}
	if len(p.groups) == 0 {
		return true
	}
	email = strings.ToLower(email)
	for _, pat := range p.groups {
		if ok, _ := path.Match(pat, email); ok {
			return true
		}
	}
	return false
}

// An Authenticator turns the bearer token of a request into a Principal. It answers an
// error of code greep.EUNAUTHORIZED for missing, malformed, expired or wrongly signed
// credentials, and greep.EFORBIDDEN for a valid identity that is not an allowed client.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// StaticToken is the `greep local --api-token` authenticator: one shared secret granting
// every scope on every group.
type StaticToken struct {
	token     []byte
	principal *Principal
}

// NewStaticToken returns an authenticator accepting exactly token, which must not be empty
// (an empty token would let anyone in).
func NewStaticToken(token string) (*StaticToken, error) {
	if token == "" {
		return nil, greep.Errorf(greep.EINVALID, "auth: the API token must not be empty")
	}
	return &StaticToken{token: []byte(token), principal: NewPrincipal("local", AllScopes, nil)}, nil
}

// Authenticate implements Authenticator in constant time over the token's contents.
func (s *StaticToken) Authenticate(_ context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, greep.Errorf(greep.EUNAUTHORIZED, "Login Required: send Authorization: Bearer <token>")
	}
	if subtle.ConstantTimeCompare([]byte(token), s.token) != 1 {
		return nil, greep.Errorf(greep.EUNAUTHORIZED, "Invalid Credentials")
	}
	return s.principal, nil
}
