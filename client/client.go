// Package client is the Go client of Greep's read API, for the jobs that copy Google
// Groups elsewhere (syncers): typed calls with paging and retries, Google's error JSON as
// error values, the credentials production and greep local need, and an Informer that
// keeps an in-memory copy of chosen groups by listing them and following the change feed.
//
//	c, _ := client.New("https://greep.example.com", client.WithIDToken(ctx, audience))
//	inf := client.NewInformer(c, client.InformerConfig{Groups: []string{"eng@example.com"}, OnAdd: ...})
//	go inf.Run(ctx)
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/idtoken"

	"github.com/greephq/greep/pkg/greep"
)

// Client calls one Greep deployment. It is safe for concurrent use.
type Client struct {
	base    string
	http    *http.Client
	tokens  oauth2.TokenSource
	retries int
	backoff time.Duration
	err     error // an option's failure, reported by New
}

// Option configures a Client.
type Option func(*Client)

// WithStaticToken authenticates with greep local's --api-token.
func WithStaticToken(token string) Option {
	return func(c *Client) { c.tokens = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}) }
}

// WithIDToken authenticates with Google-signed ID tokens for audience (the deployment's
// client allowlist names the service account), from the ambient credentials.
func WithIDToken(ctx context.Context, audience string, opts ...idtoken.ClientOption) Option {
	return func(c *Client) {
		ts, err := idtoken.NewTokenSource(ctx, audience, opts...)
		if err != nil {
			c.err = fmt.Errorf("greep client: ID tokens for %s: %w", audience, err)
			return
		}
		c.tokens = ts
	}
}

// WithTokenSource authenticates with any token source's access tokens.
func WithTokenSource(ts oauth2.TokenSource) Option { return func(c *Client) { c.tokens = ts } }

// WithHTTPClient sends requests through hc (default: a client without a global timeout,
// since long polls hold a request up to a minute; every call takes a context).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRetries retries a call answered 429 or 5xx, or failing in transport, up to n more
// times, waiting base, 2×base, ... (with jitter, at most 30 s) or what Retry-After says.
// Default 5 retries from 200 ms; 0 disables.
func WithRetries(n int, base time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, base }
}

// New returns a client of the deployment at baseURL.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("greep client: %q is not an http(s) URL", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{}, retries: 5, backoff: 200 * time.Millisecond}
	for _, o := range opts {
		o(c)
	}
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// Error is a non-2xx answer, decoded from Google's error JSON.
type Error struct {
	Code    int
	Message string
	// Reason is the first error item's reason (invalid, required, authError, forbidden,
	// notFound, gone, backendError, ...).
	Reason string
	// RetryAfter is the answer's Retry-After, when it had one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("greep: %d %s: %s", e.Code, e.Reason, e.Message)
}

// IsGone reports a change feed cursor past retention: list again.
func IsGone(err error) bool { return code(err) == http.StatusGone }

// IsNotFound reports an unknown group or user.
func IsNotFound(err error) bool { return code(err) == http.StatusNotFound }

func code(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func decodeError(resp *http.Response, body []byte) *Error {
	e := &Error{Code: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
	var g struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &g) == nil && g.Error.Message != "" {
		e.Message = g.Error.Message
		if len(g.Error.Errors) > 0 {
			e.Reason = g.Error.Errors[0].Reason
		}
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

func retryable(err error) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return 0, true // transport: the server may be restarting
	}
	return e.RetryAfter, e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// get calls path with query and decodes the JSON answer into v, retrying what may pass.
func (c *Client) get(ctx context.Context, path string, q url.Values, v any) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = c.once(ctx, path, q, v); err == nil {
			return nil
		}
		after, ok := retryable(err)
		if !ok || attempt >= c.retries || ctx.Err() != nil {
			return err
		}
		if after == 0 {
			after = c.backoff << attempt
			after = min(after/2+rand.N(after/2+1), 30*time.Second)
		}
		t := time.NewTimer(after)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

func (c *Client) once(ctx context.Context, path string, q url.Values, v any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.tokens != nil {
		tok, err := c.tokens.Token()
		if err != nil {
			return fmt.Errorf("greep client: token: %w", err)
		}
		tok.SetAuthHeader(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(resp, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("greep client: %s: decoding the answer: %w", path, err)
	}
	return nil
}

// Group is a group as /v1/groups/{key} describes it.
type Group struct {
	ID                 string    `json:"id"`
	Email              string    `json:"email"`
	Aliases            []string  `json:"aliases,omitempty"`
	Name               string    `json:"name"`
	Description        string    `json:"description,omitempty"`
	DirectMembersCount int64     `json:"directMembersCount"`
	SyncedAt           time.Time `json:"syncedAt"`
}

// Group reads one group by email, alias or id.
func (c *Client) Group(ctx context.Context, key string) (Group, error) {
	var g Group
	err := c.get(ctx, "/v1/groups/"+url.PathEscape(key), nil, &g)
	return g, err
}

// Groups lists every group the client may see, and the change feed cursor the listing
// is consistent at (the first page's).
func (c *Client) Groups(ctx context.Context) ([]Group, uint64, error) {
	var (
		out    []Group
		cursor uint64
		token  string
	)
	for first := true; ; first = false {
		var page struct {
			Groups        []Group `json:"groups"`
			NextPageToken string  `json:"nextPageToken"`
			Cursor        string  `json:"cursor"`
		}
		q := url.Values{"maxResults": {"1000"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		if err := c.get(ctx, "/v1/groups", q, &page); err != nil {
			return nil, 0, err
		}
		if first {
			var err error
			if cursor, err = parseCursor(page.Cursor); err != nil {
				return nil, 0, err
			}
		}
		out = append(out, page.Groups...)
		if token = page.NextPageToken; token == "" {
			return out, cursor, nil
		}
	}
}

// Members lists a group's direct members, and the change feed cursor the list is
// consistent at (the first page's).
func (c *Client) Members(ctx context.Context, groupKey string) ([]greep.Member, uint64, error) {
	var (
		out    []greep.Member
		cursor uint64
		token  string
	)
	for first := true; ; first = false {
		var page struct {
			Members       []greep.Member `json:"members"`
			NextPageToken string         `json:"nextPageToken"`
			Cursor        string         `json:"cursor"`
		}
		q := url.Values{"maxResults": {"1000"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		if err := c.get(ctx, "/v1/groups/"+url.PathEscape(groupKey)+"/members", q, &page); err != nil {
			return nil, 0, err
		}
		if first {
			var err error
			if cursor, err = parseCursor(page.Cursor); err != nil {
				return nil, 0, err
			}
		}
		out = append(out, page.Members...)
		if token = page.NextPageToken; token == "" {
			return out, cursor, nil
		}
	}
}

// UserGroups lists the groups a user (or group) belongs to, directly or, with
// transitive, through nested groups.
func (c *Client) UserGroups(ctx context.Context, userKey string, transitive bool) ([]Group, error) {
	var page struct {
		Groups []Group `json:"groups"`
	}
	err := c.get(ctx, "/v1/users/"+url.PathEscape(userKey)+"/groups", url.Values{"transitive": {strconv.FormatBool(transitive)}}, &page)
	return page.Groups, err
}

func parseCursor(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("greep client: the answer carries no change feed cursor (a server without a feed?)")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("greep client: bad cursor %q", s)
	}
	return n, nil
}

// ChangesRequest asks for the change records after Since.
type ChangesRequest struct {
	Since      uint64
	Group      string        // optional: one group's records
	MaxResults int           // 0: the server's default (200)
	Wait       time.Duration // long poll up to this long (the server caps it at 60 s)
}

// ChangesPage is one answer of the feed: records oldest first, and where to go on.
type ChangesPage struct {
	Changes    []greep.Change
	NextCursor uint64
}

// Changes reads the feed. A cursor past retention is an error IsGone reports: list again.
func (c *Client) Changes(ctx context.Context, r ChangesRequest) (ChangesPage, error) {
	q := url.Values{"since": {strconv.FormatUint(r.Since, 10)}}
	if r.Group != "" {
		q.Set("group", r.Group)
	}
	if r.MaxResults > 0 {
		q.Set("maxResults", strconv.Itoa(r.MaxResults))
	}
	if r.Wait > 0 {
		q.Set("wait", r.Wait.String())
	}
	var page struct {
		Changes    []greep.Change `json:"changes"`
		NextCursor string         `json:"nextCursor"`
	}
	if err := c.get(ctx, "/v1/changes", q, &page); err != nil {
		return ChangesPage{}, err
	}
	next, err := parseCursor(page.NextCursor)
	if err != nil {
		return ChangesPage{}, err
	}
	return ChangesPage{Changes: page.Changes, NextCursor: next}, nil
}
