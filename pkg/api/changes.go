package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/greephq/greep/pkg/greep"
)

// The change feed: GET /v1/changes, and the cursor every list answer carries so a client
// can list and then follow without a gap (docs/api.md, "The change feed").

// feedStore is the part of the store the feed reads; greep.Store implements it. A store
// without it serves no feed (and list answers carry no cursor).
type feedStore interface {
	Changes(ctx context.Context, q greep.ChangeQuery) ([]greep.Change, uint64, error)
	ChangeLog(ctx context.Context) (greep.ChangeLog, error)
	ChangeSignal() <-chan struct{}
}

const (
	// MaxChangesWait caps a long poll's wait: a larger wait is served as this one.
	MaxChangesWait = 60 * time.Second
	// changesRecheck is how often a long poll reads the feed again without a signal: the
	// signal hears this process's commits only, and another instance may have written.
	changesRecheck = 2 * time.Second
	// maxCursorDigits is the length of the largest uint64.
	maxCursorDigits = 20
)

// ParseCursor reads a feed cursor: a decimal number without sign or spaces.
func ParseCursor(s string) (uint64, error) {
	if s == "" {
		return 0, errRequired("since")
	}
	if len(s) > maxCursorDigits {
		return 0, errInvalid("Invalid cursor %.24q: a cursor is a decimal number from a list answer or a nextCursor", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errInvalid("Invalid cursor %q: a cursor is a decimal number from a list answer or a nextCursor", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errInvalid("Invalid cursor %q: out of range", s)
	}
	return n, nil
}

func formatCursor(c uint64) string { return strconv.FormatUint(c, 10) }

// parseWait reads wait: a Go duration ("30s") or whole seconds ("30"); over the maximum
// is capped, not refused.
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseUint(v, 10, 32)
		if nerr != nil {
			return 0, errInvalid("Invalid value for wait: %q (a duration such as 30s, at most %s)", v, MaxChangesWait)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, errInvalid("Invalid value for wait: %q (must not be negative)", v)
	}
	return min(d, MaxChangesWait), nil
}

// listCursor is the cursor a list answer is consistent at: the feed's head read before
// the list, so every change up to it is in the list (later ones may be too; following
// from it replays them, which a copy applies as no-ops). "" without a feed.
func (s *server) listCursor(ctx context.Context) (string, error) {
	if s.head == nil {
		return "", nil
	}
	l, err := s.head.get(ctx)
	if err != nil {
		return "", err
	}
	// Formatted once per head, not per request: every member page asks.
	if t := s.cursorText.Load(); t != nil && t.head == l.Head {
		return t.text, nil
	}
	t := &cursorText{l.Head, formatCursor(l.Head)}
	s.cursorText.Store(t)
	return t.text, nil
}

// cursorText is a head and its cursor as a string.
type cursorText struct {
	head uint64
	text string
}

// listedGroup is s.group for a member list that carries a cursor: the group (whose
// snapshot version picks the member list) is read from the store after the cursor, not
// from the short-lived group cache, which may hold a version from before it. A group so
// read is kept with its cursor, under the key as the path spelled it, and used again
// while the cursor is the same: no change was recorded since, so it and its members are
// the same (for up to AnswerTTL, as the head is). A request that finds it skips the
// key's unescaping, checking and lookup: they are a few percent of a member page's CPU.
func (s *server) listedGroup(r *http.Request) (greep.Group, string, error) {
	cursor, err := s.listCursor(r.Context())
	if err != nil {
		return greep.Group{}, "", err
	}
	raw := chi.URLParam(r, "groupKey")
	if l, ok := s.listed.get(raw); ok && cursor != "" && l.cursor == cursor {
		if err := canSee(r, l.g); err != nil {
			return greep.Group{}, "", err
		}
		return l.g, cursor, nil
	}
	g, err := s.group(r)
	if err != nil || cursor == "" {
		return g, cursor, err
	}
	fresh, err := s.store.Group(r.Context(), g.ID)
	if errors.Is(err, greep.ErrNotFound) {
		return greep.Group{}, "", greep.Errorf(greep.ENOTFOUND, "Resource Not Found: groupKey %s", pathParam(r, "groupKey"))
	}
	if err != nil {
		return greep.Group{}, "", err
	}
	s.listed.put(raw, listedAt{fresh, cursor})
	return fresh, cursor, nil
}

// listedAt is a group read from the store after the feed's cursor.
type listedAt struct {
	g      greep.Group
	cursor string
}

// v1Changes is /v1/changes' answer.
type v1Changes struct {
	Changes    []greep.Change `json:"changes"`
	NextCursor string         `json:"nextCursor"`
}

// GET /v1/changes?since=CURSOR&group=&maxResults=&wait=DUR
func (s *server) v1Changes(w http.ResponseWriter, r *http.Request) {
	if s.feed == nil {
		writeGoogleError(w, http.StatusNotImplemented, "notImplemented", "This store keeps no change feed")
		return
	}
	q := s.queries.of(r)
	since, err := ParseCursor(q.Get("since"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := maxResults(q, v1DefaultPage, v1MaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wait, err := parseWait(q.Get("wait"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principalFrom(r.Context())
	group := q.Get("group")
	if group != "" {
		if err := checkKey("group", group); err != nil {
			s.writeError(w, r, err)
			return
		}
		// A deleted group's records are still asked for by its address.
		if g, err := s.store.Group(r.Context(), group); err == nil {
			group = g.ID
			if !p.CanSeeGroup(g.Email) {
				s.writeError(w, r, greep.Errorf(greep.EFORBIDDEN, "Not Authorized to access this resource: the client may not read %s", g.Email))
				return
			}
		} else if !p.CanSeeGroup(group) {
			s.writeError(w, r, greep.Errorf(greep.EFORBIDDEN, "Not Authorized to access this resource: the client may not read %s", group))
			return
		}
	}

	// The wait is the client's, in real time, whatever clock the cache follows.
	ctx, end := r.Context(), time.Now().Add(wait)
	out := v1Changes{Changes: []greep.Change{}}
	cur := since
	for {
		signal := s.feed.ChangeSignal() // before the read: a commit after it wakes us
		prev := cur
		page, next, err := s.feed.Changes(ctx, greep.ChangeQuery{Since: cur, Group: group, Limit: limit})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, c := range page {
			if p.CanSeeGroup(c.Group) {
				out.Changes = append(out.Changes, c)
			}
		}
		cur = next
		left := time.Until(end)
		if len(out.Changes) > 0 || left <= 0 {
			break
		}
		if cur != prev {
			continue // records read, none for this client: read on
		}
		t := time.NewTimer(min(changesRecheck, left))
		select {
		case <-signal:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
	out.NextCursor = formatCursor(cur)
	s.writeJSON(w, r, out, "", time.Time{})
}
