package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/greephq/greep/pkg/greep"
)

// maxResults reads the maxResults parameter: def when absent, 400 outside [1, max].
func maxResults(q url.Values, def, max int) (int, error) {
	v := q.Get("maxResults")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, errInvalid("Invalid value for maxResults: %q (must be an integer from 1 to %d)", v, max)
	}
	return n, nil
}

// boolParam reads a true/false parameter (absent is false).
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	switch strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errInvalid("Invalid value for %s: %q (must be true or false)", name, v)
}

// maxKeyLen is generous for an email address (254) or a Google id.
const maxKeyLen = 320

// checkKey refuses keys that cannot be an email, alias or id, before they reach the store.
func checkKey(name, key string) error {
	if key == "" {
		return errRequired(name)
	}
	if len(key) > maxKeyLen {
		return errInvalid("Invalid Input: %s is longer than %d characters", name, maxKeyLen)
	}
	for _, c := range key {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == '/' || c == '\\' || c == '"' || c == unicode.ReplacementChar {
			return errInvalid("Invalid Input: %s %q has a character no email or id has", name, key)
		}
	}
	if at := strings.IndexByte(key, '@'); at >= 0 && (at == 0 || at == len(key)-1 || strings.Count(key, "@") > 1) {
		return errInvalid("Invalid Input: %s %q is not an email address", name, key)
	}
	return nil
}

// group resolves the {groupKey} of the request and checks the principal may see it.
func (s *server) group(r *http.Request) (greep.Group, error) {
	key := pathParam(r, "groupKey")
	if err := checkKey("groupKey", key); err != nil {
		return greep.Group{}, err
	}
	g, err := s.lookupGroup(r.Context(), key)
	if errors.Is(err, greep.ErrNotFound) {
		return greep.Group{}, greep.Errorf(greep.ENOTFOUND, "Resource Not Found: groupKey %s", key)
	}
	if err != nil {
		return greep.Group{}, err
	}
	if err := canSee(r, g); err != nil {
		return greep.Group{}, err
	}
	return g, nil
}

// canSee is EFORBIDDEN unless the request's principal may read g.
func canSee(r *http.Request, g greep.Group) error {
	if !principalFrom(r.Context()).CanSeeGroup(g.Email) {
		return greep.Errorf(greep.EFORBIDDEN, "Not Authorized to access this resource: the client may not read %s", g.Email)
	}
	return nil
}

// lookupGroup reads a group by key through the short-lived group cache. Unknown groups
// are not cached, so a group created since is found at once.
func (s *server) lookupGroup(ctx context.Context, key string) (greep.Group, error) {
	if g, ok := s.groups.get(key); ok {
		return g, nil
	}
	g, err := s.store.Group(ctx, key)
	if err != nil {
		return g, err
	}
	s.groups.put(key, g)
	return g, nil
}

// cacheSyncedAt is when the cache as a whole was last brought up to date, for answers that
// do not come from one group.
func (s *server) cacheSyncedAt(ctx context.Context) time.Time {
	var st greep.SyncState
	if ok, err := s.loadState(ctx, greep.StateSync, &st); !ok || err != nil {
		return time.Time{}
	}
	if st.LastResyncAt.After(st.LastFullSyncAt) {
		return st.LastResyncAt
	}
	return st.LastFullSyncAt
}

// writeBody answers a rendered JSON body. With an etag, a request whose If-None-Match
// names it gets 304 and no body. syncedAt also goes in a header, so Directory-compatible
// answers (whose JSON is Google's) carry it too.
func writeBody(w http.ResponseWriter, r *http.Request, body []byte, etag string, syncedAt time.Time) {
	h := w.Header()
	if !syncedAt.IsZero() {
		h.Set("X-Greep-Synced-At", syncedAt.UTC().Format(time.RFC3339Nano))
	}
	if etag != "" {
		h.Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h["Content-Type"] = jsonValue
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	// One Write: net/http sends a Write larger than its 4 KB buffer to the socket at
	// once, so a body written in parts costs a system call a part.
	w.Write(body)
}

// notModified answers 304 when the request's If-None-Match names etag, before the
// answer is built: a poller of an unchanged list costs a lookup and a hash.
func notModified(w http.ResponseWriter, r *http.Request, etag string, syncedAt time.Time) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" || !etagMatch(inm, etag) {
		return false
	}
	writeBody(w, r, nil, etag, syncedAt)
	return true
}

// etagMatch implements If-None-Match's weak comparison against one of a list of tags.
func etagMatch(header, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// loadState decodes the state document called name into v, reporting false when there is
// none.
func (s *server) loadState(ctx context.Context, name string, v any) (bool, error) {
	b, err := s.store.State(ctx, name)
	if errors.Is(err, greep.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("state %s: %w", name, err)
	}
	return true, nil
}

// pathParam returns a path parameter unescaped: chi matches on the escaped path when the
// request has one (Google's Go client sends "@" as %40), so its values may still be
// escaped. A value that does not unescape is returned as it is and refused by checkKey.
func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return v
	}
	return u
}
