package api

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// Page sizes of the /v1 API (the Directory-compatible surface keeps Google's 200).
const (
	v1DefaultPage = 200
	v1MaxPage     = 1000
)

// appendV1GroupSummary appends a group's entry in a list; role, when not empty, is the
// asking user's own role in it (/v1/users/{key}/groups).
func appendV1GroupSummary(b []byte, g greep.Group, role string) []byte {
	b = append(b, '{')
	b = appendField(b, true, "id", g.ID)
	b = appendField(b, false, "email", g.Email)
	b = appendField(b, false, "name", g.Name)
	b = append(b, `,"directMembersCount":`...)
	b = appendInt(b, g.DirectMembersCount)
	if role != "" {
		b = appendField(b, false, "role", role)
	}
	b = append(b, `,"syncedAt":`...)
	b = appendTime(b, g.SyncedAt)
	return append(b, '}')
}

// appendTail closes a list answer with its page token, the change feed's cursor it is
// consistent at (when given) and syncedAt.
func appendTail(b []byte, next, cursor string, syncedAt time.Time) []byte {
	return appendTrailer(appendListEnd(b, next), cursor, syncedAt)
}

// appendListEnd closes a list and adds its page token: the part of a list answer that
// depends on the list alone.
func appendListEnd(b []byte, next string) []byte {
	b = append(b, ']')
	if next != "" {
		b = appendField(b, false, "nextPageToken", next)
	}
	return b
}

// appendTrailer ends a list answer with the parts that depend on the moment it is asked:
// the change feed's cursor (when given) and syncedAt.
func appendTrailer(b []byte, cursor string, syncedAt time.Time) []byte {
	if cursor != "" {
		b = appendField(b, false, "cursor", cursor)
	}
	b = append(b, `,"syncedAt":`...)
	b = appendTime(b, syncedAt)
	return append(b, "}\n"...)
}

// GET /v1/groups
func (s *server) v1Groups(w http.ResponseWriter, r *http.Request) {
	q := s.queries.of(r)
	limit, err := maxResults(q, v1DefaultPage, v1MaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	const query = "v1/groups"
	cursor, err := s.tokens.decode(query, q.Get("pageToken"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	feedCursor, err := s.listCursor(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	groups, next, err := s.store.Groups(r.Context(), greep.Page{Token: cursor, Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principalFrom(r.Context())
	buf := getBuf(128*len(groups) + 128)
	defer putBuf(buf)
	b := append(*buf, `{"groups":[`...)
	var oldest time.Time
	n := 0
	for _, g := range groups {
		if !p.CanSeeGroup(g.Email) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendV1GroupSummary(b, g, "")
		if oldest.IsZero() || g.SyncedAt.Before(oldest) {
			oldest = g.SyncedAt
		}
	}
	if oldest.IsZero() {
		oldest = s.cacheSyncedAt(r.Context())
	}
	b = appendTail(b, s.tokens.encode(query, next), feedCursor, oldest)
	*buf = b // keep what append grew, so the pool returns it next time
	writeBody(w, r, b, "", oldest)
}

// v1Group is /v1/groups/{groupKey}'s answer.
type v1Group struct {
	ID                 string     `json:"id"`
	Email              string     `json:"email"`
	Aliases            []string   `json:"aliases,omitempty"`
	Name               string     `json:"name"`
	Description        string     `json:"description,omitempty"`
	DirectMembersCount int64      `json:"directMembersCount"`
	ETag               string     `json:"etag,omitempty"`
	SyncedAt           time.Time  `json:"syncedAt"`
	MembersSyncedAt    *time.Time `json:"membersSyncedAt,omitempty"`
}

// groupETag is the entity tag of a group's metadata, syncedAt excluded.
func groupETag(g greep.Group) string {
	h := fnv.New64a()
	for _, s := range append([]string{g.ID, g.Email, g.Name, g.Description, g.ETag, string(appendInt(nil, g.DirectMembersCount))}, g.Aliases...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return quotedHash(h.Sum64())
}

// GET /v1/groups/{groupKey}
func (s *server) v1Group(w http.ResponseWriter, r *http.Request) {
	g, err := s.group(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := v1Group{ID: g.ID, Email: g.Email, Aliases: g.Aliases, Name: g.Name, Description: g.Description,
		DirectMembersCount: g.DirectMembersCount, ETag: g.ETag, SyncedAt: g.SyncedAt}
	if !g.MembersSyncedAt.IsZero() {
		out.MembersSyncedAt = &g.MembersSyncedAt
	}
	s.writeJSON(w, r, out, groupETag(g), g.SyncedAt)
}

// GET /v1/groups/{groupKey}/members
func (s *server) v1Members(w http.ResponseWriter, r *http.Request) {
	q := s.queries.of(r)
	g, feedCursor, err := s.listedGroup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	transitive, err := boolParam(q, "transitive")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := maxResults(q, v1DefaultPage, v1MaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	roles, err := parseRoles(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rolesKey := strings.Join(roles, ",")
	query := "v1/members\x00" + g.ID + "\x00" + rolesKey
	if transitive {
		query += "\x00t"
	}
	cursor, err := s.tokens.decode(query, q.Get("pageToken"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	kind := directMembers
	if transitive {
		kind = transitiveUsers
		feedCursor = "" // expansions are cached across snapshots: no single point in the feed
	}
	snap, syncedAt, err := s.memberSnapshot(r.Context(), g, kind)
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	key := pageKey{surface: "v1", cursor: cursor, roles: rolesKey, limit: limit}
	page, ok := snap.pages.get(key)
	if !ok {
		etag := pageETag(snap.hash, "v1", cursor, rolesKey, strconv.Itoa(limit))
		if notModified(w, r, etag, syncedAt) {
			return
		}
		head, n := s.encodeV1Page(snap, query, cursor, roles, limit)
		page = newKeptPage(head, etag, true, feedCursor, syncedAt)
		snap.pages.put(key, page, n, len(snap.members))
	}
	page.serve(w, r, feedCursor, syncedAt)
}

// encodeV1Page encodes a /v1 member page from snap up to its page token, in a buffer of
// its own (the page cache keeps it), and returns it with how many members it holds; the
// answer's trailer (appendTrailer) follows it.
func (s *server) encodeV1Page(snap *snapshot, query, cursor string, roles []string, limit int) ([]byte, int) {
	picked, more := pageMembers(snap, snap.after(cursor), limit, roles)
	next := ""
	if more {
		next = s.tokens.encode(query, memberCursor(snap.members[picked[len(picked)-1]]))
	}
	frags := snap.v1Picked(picked)
	size := 48 + len(next) // the envelope: members and nextPageToken
	for _, f := range frags {
		size += len(f) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"members":[`...)
	for k, f := range frags {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, f...)
	}
	return appendListEnd(b, next), len(picked)
}

// writeJSON answers v encoded by encoding/json (the paths that are not hot).
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, v any, etag string, syncedAt time.Time) {
	b, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeBody(w, r, append(b, '\n'), etag, syncedAt)
}

// historyKey resolves a group key for the history, which outlives the group: a deleted
// group's history is still asked for by its address.
func (s *server) historyGroup(r *http.Request) (string, error) {
	g, err := s.group(r)
	if err == nil {
		return g.Email, nil
	}
	key := pathParam(r, "groupKey")
	if greep.ErrorCode(err) == greep.ENOTFOUND && strings.Contains(key, "@") {
		if !principalFrom(r.Context()).CanSeeGroup(key) {
			return "", greep.Errorf(greep.EFORBIDDEN, "Not Authorized to access this resource: the client may not read %s", key)
		}
		return strings.ToLower(key), nil
	}
	return "", err
}

type eventsAnswer struct {
	Events        []greep.Event `json:"events"`
	NextPageToken string        `json:"nextPageToken,omitempty"`
	SyncedAt      time.Time     `json:"syncedAt"`
}

// GET /v1/groups/{groupKey}/history
func (s *server) v1GroupHistory(w http.ResponseWriter, r *http.Request) {
	email, err := s.historyGroup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.events(w, r, greep.EventQuery{Group: email}, "v1/history\x00"+email)
}

// GET /v1/history
func (s *server) v1History(w http.ResponseWriter, r *http.Request) {
	h, export, err := s.parseHistoryRange(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if export {
		s.exportHistory(w, r, h)
		return
	}
	var q greep.EventQuery
	if v := s.queries.of(r).Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.writeError(w, r, errInvalid("Invalid value for since: %q (must be an RFC 3339 time such as 2026-01-02T15:04:05Z)", v))
			return
		}
		if err := s.withinRetention(t); err != nil {
			s.writeError(w, r, err)
			return
		}
		q.Since = t
	}
	s.events(w, r, q, "v1/history\x00\x00"+q.Since.UTC().Format(time.RFC3339Nano))
}

func (s *server) events(w http.ResponseWriter, r *http.Request, q greep.EventQuery, query string) {
	params := s.queries.of(r)
	limit, err := maxResults(params, v1DefaultPage, v1MaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Token, err = s.tokens.decode(query, params.Get("pageToken")); err != nil {
		s.writeError(w, r, err)
		return
	}
	q.Limit = limit
	if err := s.projector.CatchUp(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	events, next, err := s.store.Events(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principalFrom(r.Context())
	out := eventsAnswer{Events: make([]greep.Event, 0, len(events)), NextPageToken: s.tokens.encode(query, next), SyncedAt: s.cacheSyncedAt(r.Context())}
	for _, e := range events {
		if p.CanSeeGroup(e.Group) {
			out.Events = append(out.Events, e)
		}
	}
	s.writeJSON(w, r, out, "", out.SyncedAt)
}

// v1Finding is a finding as the API shows it (the patch bookkeeping stays inside).
type v1Finding struct {
	ID        string    `json:"id"`
	Group     string    `json:"group"`
	Rule      string    `json:"rule"`
	Field     string    `json:"field"`
	State     string    `json:"state"`
	Before    string    `json:"before"`
	After     string    `json:"after"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	ChangedBy string    `json:"changedBy,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

type findingsAnswer struct {
	Findings      []v1Finding `json:"findings"`
	NextPageToken string      `json:"nextPageToken,omitempty"`
	SyncedAt      time.Time   `json:"syncedAt"`
}

// GET /v1/findings
func (s *server) v1Findings(w http.ResponseWriter, r *http.Request) {
	params := s.queries.of(r)
	q := greep.FindingQuery{State: params.Get("state"), Group: params.Get("group")}
	switch q.State {
	case "", greep.FindingOpen, greep.FindingFixed, greep.FindingExempt, greep.FindingFailed:
	default:
		s.writeError(w, r, errInvalid("Invalid value for state: %q (must be open, fixed, exempt or failed)", q.State))
		return
	}
	if q.Group != "" {
		if err := checkKey("group", q.Group); err != nil {
			s.writeError(w, r, err)
			return
		}
		if g, err := s.store.Group(r.Context(), q.Group); err == nil {
			q.Group = g.Email
		} else if !errors.Is(err, greep.ErrNotFound) {
			s.writeError(w, r, err)
			return
		} else {
			q.Group = strings.ToLower(q.Group)
		}
	}
	limit, err := maxResults(params, v1DefaultPage, v1MaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	query := "v1/findings\x00" + q.State + "\x00" + q.Group
	if q.Token, err = s.tokens.decode(query, params.Get("pageToken")); err != nil {
		s.writeError(w, r, err)
		return
	}
	q.Limit = limit
	fs, next, err := s.store.Findings(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principalFrom(r.Context())
	out := findingsAnswer{Findings: make([]v1Finding, 0, len(fs)), NextPageToken: s.tokens.encode(query, next), SyncedAt: s.cacheSyncedAt(r.Context())}
	for _, f := range fs {
		if !p.CanSeeGroup(f.Group) {
			continue
		}
		out.Findings = append(out.Findings, v1Finding{ID: f.ID, Group: f.Group, Rule: f.Rule, Field: f.Field, State: f.State,
			Before: f.Before, After: f.After, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, ChangedBy: f.ChangedBy, Detail: f.Detail})
	}
	s.writeJSON(w, r, out, "", out.SyncedAt)
}
