// Package cache holds what Greep's two store implementations share: the rules for valid
// keys and value sizes, page limits, and the normalisation of member lists. Keeping these
// in one place is what lets pkg/cache/storetest hold the embedded store (pkg/cache/bolt)
// and the Datastore store (pkg/cache/datastore) to one contract: the same input is
// accepted or refused by both, with the same error codes.
package cache

import (
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/greephq/greep/pkg/greep"
)

// Limits common to both stores. They come from Datastore's (1,500 bytes for an indexed
// string or key name, 1 MiB per entity); the embedded store enforces them too so that
// data accepted locally is never refused in production.
const (
	// MaxKeyBytes is the longest id, email, name or kind accepted.
	MaxKeyBytes = 1024
	// MaxValueBytes is the largest encoded value (state document, record, group, finding,
	// event, settings) one entity may hold, leaving room under 1 MiB for the key and
	// indexed properties.
	MaxValueBytes = 1000 * 1000
	// DefaultPageSize is used when Page.Limit <= 0.
	DefaultPageSize = 100
	// MaxPageSize caps Page.Limit.
	MaxPageSize = 1000
)

// CheckKey reports an EINVALID error unless s is usable as a key: non-empty, at most
// MaxKeyBytes, valid UTF-8 without control characters, and not of Datastore's reserved
// form __name__. what names the key in the message ("group id", "record kind").
func CheckKey(what, s string) error {
	switch {
	case s == "":
		return greep.Errorf(greep.EINVALID, "%s is empty", what)
	case len(s) > MaxKeyBytes:
		return greep.Errorf(greep.EINVALID, "%s is %d bytes long; the limit is %d", what, len(s), MaxKeyBytes)
	case !utf8.ValidString(s):
		return greep.Errorf(greep.EINVALID, "%s %q is not valid UTF-8", what, s)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return greep.Errorf(greep.EINVALID, "%s %q contains a control character", what, s)
	case len(s) >= 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__"):
		return greep.Errorf(greep.EINVALID, "%s %q has the reserved form __name__", what, s)
	}
	return nil
}

// CheckSize reports an ETOOLARGE error when a value of n bytes exceeds MaxValueBytes.
func CheckSize(what string, n int) error {
	if n > MaxValueBytes {
		return greep.Errorf(greep.ETOOLARGE, "%s is %d bytes; the limit is %d", what, n, MaxValueBytes)
	}
	return nil
}

// PageSize returns the number of items to return for p.
func PageSize(p greep.Page) int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// FoldEmail is the form emails are indexed and compared in: Google treats them
// case-insensitively.
func FoldEmail(s string) string { return strings.ToLower(s) }

// CheckSettingsNewer refuses, with code ECONFLICT, to replace the stored settings cur by
// gs read earlier: greep.DirectoryStore.PutSettings keeps the later read.
func CheckSettingsNewer(gs, cur greep.GroupSettings) error {
	if cur.ReadAt.After(gs.ReadAt) {
		return greep.Errorf(greep.ECONFLICT, "settings of %s read at %s not stored: the cache holds a later read (%s)",
			gs.GroupEmail, gs.ReadAt.UTC().Format(time.RFC3339Nano), cur.ReadAt.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// OlderRead reports whether a member list read at syncedAt is older than the one stored
// for g. Every store keeps the newer list and lets the older write change nothing: of
// two reads of one group stored out of order (a sweep's page committed after a push
// refresh that read later), the later read stays. A write is not refused for it, as
// CheckSettingsNewer refuses settings, because it is usually one part of a task's unit
// of work whose other parts (its done marker, its counts) must still be committed.
func OlderRead(g greep.Group, syncedAt time.Time) bool { return syncedAt.Before(g.MembersSyncedAt) }

// CheckGroup validates a group before it is stored.
func CheckGroup(g greep.Group) error {
	if err := CheckKey("group id", g.ID); err != nil {
		return err
	}
	if err := CheckKey("group email", g.Email); err != nil {
		return err
	}
	for _, a := range g.AllAliases() {
		if err := CheckKey("group alias", a); err != nil {
			return err
		}
	}
	return nil
}

// NormalizeMembers checks a member list and returns it ordered by email (then id) with
// duplicates (the same id, or the same email when there is no id) removed, the last
// occurrence winning. Every member needs an id or an email.
func NormalizeMembers(members []greep.Member) ([]greep.Member, error) {
	seen := make(map[string]int, len(members))
	out := make([]greep.Member, 0, len(members))
	for i, m := range members {
		if m.ID == "" && m.Email == "" {
			return nil, greep.Errorf(greep.EINVALID, "member %d has neither id nor email", i)
		}
		for _, k := range []struct{ what, v string }{{"member id", m.ID}, {"member email", m.Email}} {
			if k.v == "" {
				continue
			}
			if err := CheckKey(k.what, k.v); err != nil {
				return nil, err
			}
		}
		id := MemberIdentity(m)
		if j, ok := seen[id]; ok {
			out[j] = m
			continue
		}
		seen[id] = len(out)
		out = append(out, m)
	}
	SortMembers(out)
	return out, nil
}

// MemberIdentity is what makes two entries of one list the same member.
func MemberIdentity(m greep.Member) string {
	if m.ID != "" {
		return "i:" + m.ID
	}
	return "e:" + FoldEmail(m.Email)
}

// SortMembers orders members the way every store returns them: by folded email, then id.
func SortMembers(ms []greep.Member) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := FoldEmail(ms[i].Email), FoldEmail(ms[j].Email)
		if a != b {
			return a < b
		}
		return ms[i].ID < ms[j].ID
	})
}

// MemberKeys returns the reverse-index keys of a member: its id and its folded email,
// the two forms MemberOf accepts.
func MemberKeys(m greep.Member) []string {
	var ks []string
	if m.ID != "" {
		ks = append(ks, m.ID)
	}
	if m.Email != "" {
		if e := FoldEmail(m.Email); e != m.ID {
			ks = append(ks, e)
		}
	}
	return ks
}

// CheckUser validates a user before it is stored.
func CheckUser(u greep.User) error {
	if err := CheckKey("user id", u.ID); err != nil {
		return err
	}
	if err := CheckKey("user email", u.PrimaryEmail); err != nil {
		return err
	}
	for _, a := range u.AllAliases() {
		if err := CheckKey("user alias", a); err != nil {
			return err
		}
	}
	return nil
}

// CheckUserStatus validates a user listing's status filter ("" for every user).
func CheckUserStatus(status string) error {
	switch status {
	case "", greep.UserActive, greep.UserSuspended, greep.UserArchived:
		return nil
	}
	return greep.Errorf(greep.EINVALID, "Invalid value for status: %q (must be ACTIVE, SUSPENDED or ARCHIVED)", status)
}
