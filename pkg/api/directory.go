package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/jsonw"
)

// The Directory API-compatible surface answers the paths, parameters, JSON (kind, etag,
// directMembersCount as a string) and paging of admin/directory/v1, so that a job built on
// Google's Go or Node.js client reads Greep by changing its endpoint.

// dirMaxPage is Google's ceiling (and default) for groups and members pages.
const dirMaxPage = 200

func appendDirGroup(b []byte, g greep.Group) []byte {
	b = append(b, `{"kind":"admin#directory#group"`...)
	b = appendField(b, false, "id", g.ID)
	etag := g.ETag
	if etag == "" {
		etag = groupETag(g)
	}
	b = appendField(b, false, "etag", etag)
	b = appendField(b, false, "email", g.Email)
	b = appendField(b, false, "name", g.Name)
	b = append(b, `,"directMembersCount":"`...)
	b = appendInt(b, g.DirectMembersCount)
	b = append(b, '"')
	b = appendField(b, false, "description", g.Description)
	b = appendStrings(b, "aliases", g.Aliases)
	b = appendStrings(b, "nonEditableAliases", g.NonEditableAliases)
	return append(b, '}')
}

// appendStrings appends `,"name":[...]` unless list is empty (Google leaves such lists out).
func appendStrings(b []byte, name string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":[`...)
	for i, a := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, a)
	}
	return append(b, ']')
}

// GET /admin/directory/v1/groups
func (s *server) dirGroups(w http.ResponseWriter, r *http.Request) {
	q := s.queries.of(r)
	customer, domain, userKey := q.Get("customer"), strings.ToLower(q.Get("domain")), q.Get("userKey")
	switch {
	case customer == "" && domain == "" && userKey == "":
		s.writeError(w, r, errRequired("customer"))
		return
	case customer != "" && userKey != "":
		s.writeError(w, r, errInvalid("Invalid Input: customer and userKey cannot be combined"))
		return
	case q.Get("query") != "":
		s.writeError(w, r, errInvalid("Invalid Input: query is not supported by Greep; filter the listing yourself"))
		return
	case q.Get("orderBy") != "" && q.Get("orderBy") != "email":
		s.writeError(w, r, errInvalid("Invalid value for orderBy: %q (only email)", q.Get("orderBy")))
		return
	case q.Get("sortOrder") != "" && q.Get("sortOrder") != "ASCENDING":
		s.writeError(w, r, errInvalid("Invalid value for sortOrder: %q (Greep lists in ascending email order only)", q.Get("sortOrder")))
		return
	}
	if domain != "" && (strings.ContainsAny(domain, "@/ ") || len(domain) > 253) {
		s.writeError(w, r, errInvalid("Invalid Input: domain %q", domain))
		return
	}
	if userKey != "" {
		if err := checkKey("userKey", userKey); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	limit, err := maxResults(q, dirMaxPage, dirMaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	query := "dir/groups\x00" + domain + "\x00" + userKey
	cursor, err := s.tokens.decode(query, q.Get("pageToken"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	var groups []greep.Group
	var next string
	if userKey != "" {
		// A member's groups, direct only as on Google, paged by email in memory.
		ref, err := s.resolveMember(r.Context(), userKey)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		all, err := s.memberGroups(r.Context(), ref, false, s.lookupGroup)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if domain != "" {
			all = slices.DeleteFunc(all, func(g greep.Group) bool { return !inDomain(g.Email, domain) })
		}
		i := 0
		if cursor != "" {
			i, _ = slices.BinarySearchFunc(all, cursor, func(g greep.Group, c string) int { return strings.Compare(g.Email, c) })
			if i < len(all) && all[i].Email == cursor {
				i++
			}
		}
		j := min(i+limit, len(all))
		groups = all[i:j]
		if j < len(all) {
			next = all[j-1].Email
		}
	} else {
		// Filtering by domain may leave a page short (even empty) with a next token, which
		// Google's clients page through as they would on Google.
		all, n, err := s.store.Groups(r.Context(), greep.Page{Token: cursor, Limit: limit})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		p := principalFrom(r.Context())
		for _, g := range all {
			if (domain == "" || inDomain(g.Email, domain)) && p.CanSeeGroup(g.Email) {
				groups = append(groups, g)
			}
		}
		next = n
	}

	buf := getBuf(256*len(groups) + 128)
	defer putBuf(buf)
	b := append(*buf, `{"kind":"admin#directory#groups"`...)
	etagAt := len(b)
	if len(groups) > 0 {
		b = append(b, `,"groups":[`...)
		for i, g := range groups {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendDirGroup(b, g)
		}
		b = append(b, ']')
	}
	etag := pageETag(hashBytes(b[etagAt:]), cursor)
	if next != "" {
		b = appendField(b, false, "nextPageToken", s.tokens.encode(query, next))
	}
	b = appendField(b, false, "etag", etag)
	b = append(b, "}\n"...)
	*buf = b // keep what append grew, so the pool returns it next time
	writeBody(w, r, b, etag, s.oldestSynced(groups))
}

func inDomain(email, domain string) bool {
	return strings.HasSuffix(strings.ToLower(email), "@"+domain)
}

func (s *server) oldestSynced(groups []greep.Group) (t time.Time) {
	for _, g := range groups {
		if t.IsZero() || g.SyncedAt.Before(t) {
			t = g.SyncedAt
		}
	}
	return t
}

// GET /admin/directory/v1/groups/{groupKey}
func (s *server) dirGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.group(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b := appendDirGroup(nil, g)
	etag := g.ETag
	if etag == "" {
		etag = groupETag(g)
	}
	writeBody(w, r, append(b, '\n'), etag, g.SyncedAt)
}

// GET /admin/directory/v1/groups/{groupKey}/members
func (s *server) dirMembers(w http.ResponseWriter, r *http.Request) {
	g, err := s.group(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := s.queries.of(r)
	roles, err := parseRoles(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	derived, err := boolParam(q, "includeDerivedMembership")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := maxResults(q, dirMaxPage, dirMaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rolesKey := strings.Join(roles, ",")
	query := "dir/members\x00" + g.ID + "\x00" + rolesKey
	if derived {
		query += "\x00d"
	}
	cursor, err := s.tokens.decode(query, q.Get("pageToken"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	kind := directMembers
	if derived {
		kind = derivedMembers
	}
	snap, syncedAt, err := s.memberSnapshot(r.Context(), g, kind)
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	key := pageKey{surface: "dir", cursor: cursor, roles: rolesKey, limit: limit}
	page, ok := snap.pages.get(key)
	if !ok {
		etag := pageETag(snap.hash, "dir", cursor, rolesKey, strconv.Itoa(limit))
		if notModified(w, r, etag, syncedAt) {
			return
		}
		body, n := s.encodeDirPage(snap, query, cursor, roles, limit, etag)
		page = newKeptPage(body, etag, false, "", syncedAt)
		snap.pages.put(key, page, n, len(snap.members))
	}
	page.serve(w, r, "", syncedAt)
}

// encodeDirPage encodes a whole members.list answer from snap, in a buffer of its own
// (the page cache keeps it), and returns it with how many members it holds.
func (s *server) encodeDirPage(snap *snapshot, query, cursor string, roles []string, limit int, etag string) ([]byte, int) {
	picked, more := pageMembers(snap, snap.after(cursor), limit, roles)
	next := ""
	if more {
		next = s.tokens.encode(query, memberCursor(snap.members[picked[len(picked)-1]]))
	}
	size := 96 + len(next) + len(etag) // the envelope: kind, members, nextPageToken and etag
	for _, k := range picked {
		size += len(snap.dirMember(k)) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"kind":"admin#directory#members"`...)
	for i, k := range picked {
		if i == 0 {
			b = append(b, `,"members":[`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, snap.dirMember(k)...)
	}
	if len(picked) > 0 {
		b = append(b, ']')
	}
	if next != "" {
		b = appendField(b, false, "nextPageToken", next)
	}
	b = appendField(b, false, "etag", etag)
	return append(b, "}\n"...), len(picked)
}

// findMember returns the member of snap that ref names.
func findMember(snap *snapshot, ref memberRef) (greep.Member, bool) {
	for _, m := range snap.members {
		if ref.matches(m) {
			return m, true
		}
	}
	return greep.Member{}, false
}

// GET /admin/directory/v1/groups/{groupKey}/members/{memberKey}
func (s *server) dirMember(w http.ResponseWriter, r *http.Request) {
	g, err := s.group(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	key := pathParam(r, "memberKey")
	if err := checkKey("memberKey", key); err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.resolveMember(r.Context(), key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	snap, err := s.snaps.get(r.Context(), g)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, ok := findMember(snap, ref)
	if !ok {
		s.writeError(w, r, greep.Errorf(greep.ENOTFOUND, "Resource Not Found: memberKey %s", key))
		return
	}
	writeBody(w, r, append(appendDirMember(nil, m), '\n'), memberETag(m), g.MembersSyncedAt)
}

// GET /admin/directory/v1/groups/{groupKey}/hasMember/{memberKey}
func (s *server) dirHasMember(w http.ResponseWriter, r *http.Request) {
	g, err := s.group(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	key := pathParam(r, "memberKey")
	if err := checkKey("memberKey", key); err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.resolveMember(r.Context(), key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Direct or nested, as Google's hasMember, from what the client may read.
	x, err := s.expand(r.Context(), g, derivedMembers)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, ok := findMember(x.snap, ref)
	b := []byte(`{"isMember":false}` + "\n")
	if ok {
		b = []byte(`{"isMember":true}` + "\n")
	}
	writeBody(w, r, b, "", x.syncedAt)
}
