// Package workspace builds the official Google API clients Greep's workers use, pointed
// either at Google (domain-wide delegation) or at a Workspace simulator (endpoint option).
// Every client shares one HTTP transport chain, so the per-task call budget and the daily
// quota guard see every call whichever API it goes to.
package workspace

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	admin "google.golang.org/api/admin/directory/v1"
	reports "google.golang.org/api/admin/reports/v1"
	"google.golang.org/api/groupssettings/v1"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

// Scopes are the read-only scopes Greep needs (Groups Settings has no read-only scope;
// patching needs it anyway).
var Scopes = []string{
	admin.AdminDirectoryGroupReadonlyScope,
	admin.AdminDirectoryUserReadonlyScope,
	reports.AdminReportsAuditReadonlyScope,
	groupssettings.AppsGroupsSettingsScope,
}

// Config says where the Google APIs are and who Greep acts as.
type Config struct {
	// Endpoint is a Workspace simulator's base URL ("http://127.0.0.1:8081"), or "" for Google.
	Endpoint string
	// AdminSubject is the admin user Greep impersonates (domain-wide delegation). Against a
	// simulator it is sent as the bearer token, which the simulator counts quota by.
	AdminSubject string
	// ServiceAccount is the delegated service account to impersonate without a key
	// (production). Empty uses Application Default Credentials as they are.
	ServiceAccount string
	// Wrap, if set, wraps the transport under the OAuth layer: the call budget and quota
	// guard go here.
	Wrap func(http.RoundTripper) http.RoundTripper
}

// Clients are the three API clients.
type Clients struct {
	Directory *admin.Service
	Reports   *reports.Service
	Settings  *groupssettings.Service
	// HTTP is the client under the three (OAuth, call budget, quota guard), for a call
	// whose raw JSON matters: the reports backfill reads activities as the webhook does.
	HTTP *http.Client
}

// maxIdleConnsPerHost covers the calls Greep makes at once: a few batches of a lane.
const maxIdleConnsPerHost = 64

// New builds the clients.
func New(ctx context.Context, cfg Config) (*Clients, error) {
	ts, err := tokenSource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// net/http keeps two idle connections a host by default: with more calls at once (a
	// background lane dispatches its tasks in batches) every call past two closed its
	// connection and the next dialled again. Google speaks HTTP/2, one connection for all;
	// the simulator speaks HTTP/1.1, a connection a call in flight.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
	var base http.RoundTripper = tr
	if cfg.Wrap != nil {
		base = cfg.Wrap(base)
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}}

	opts := func(path string) []option.ClientOption {
		o := []option.ClientOption{option.WithHTTPClient(hc)}
		if cfg.Endpoint != "" {
			o = append(o, option.WithEndpoint(strings.TrimRight(cfg.Endpoint, "/")+path))
		}
		return o
	}
	dir, err := admin.NewService(ctx, opts("/")...)
	if err != nil {
		return nil, fmt.Errorf("directory client: %w", err)
	}
	rep, err := reports.NewService(ctx, opts("/")...)
	if err != nil {
		return nil, fmt.Errorf("reports client: %w", err)
	}
	set, err := groupssettings.NewService(ctx, opts("/groups/v1/groups/")...)
	if err != nil {
		return nil, fmt.Errorf("groups settings client: %w", err)
	}
	return &Clients{Directory: dir, Reports: rep, Settings: set, HTTP: hc}, nil
}

func tokenSource(ctx context.Context, cfg Config) (oauth2.TokenSource, error) {
	if cfg.Endpoint != "" {
		if cfg.AdminSubject == "" {
			return nil, fmt.Errorf("workspace: an admin subject is needed (the simulator counts quota per user)")
		}
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: cfg.AdminSubject, TokenType: "Bearer"}), nil
	}
	if cfg.AdminSubject == "" {
		return nil, fmt.Errorf("workspace: --admin-subject is required for Google (domain-wide delegation impersonates an admin)")
	}
	if cfg.ServiceAccount == "" {
		return nil, fmt.Errorf("workspace: the delegated service account is required for Google (keyless impersonation)")
	}
	// Keyless domain-wide delegation: the runtime identity signs a JWT for the delegated
	// service account through the IAM Credentials API, so no key file exists to leak.
	ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
		TargetPrincipal: cfg.ServiceAccount,
		Scopes:          Scopes,
		Subject:         cfg.AdminSubject,
	})
	if err != nil {
		return nil, fmt.Errorf("workspace: impersonating %s: %w", cfg.ServiceAccount, err)
	}
	return ts, nil
}
