package api

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// A snapshot is one group's member list as the store holds it, sorted by (email, id) and
// rendered once into the JSON pieces both API surfaces need. It is immutable once built,
// so pages are cut from it without locks.
type snapshot struct {
	version string
	members []greep.Member
	// hash identifies the members' contents: equal lists give equal hashes, which is what
	// page ETags are made of.
	hash uint64

	v1Once  sync.Once
	v1      [][]byte // {"id","email","role","type","status"}
	dirOnce sync.Once
	dir     [][]byte // Directory API Member resources
}

// snapshotVersion names a group's member snapshot. MembersETag is Google's etag the
// members were read under (it changes whenever the membership does) and MembersSyncedAt
// changes with every replacement, so an unchanged version means unchanged members.
func snapshotVersion(g greep.Group) string {
	return strconv.FormatInt(g.MembersSyncedAt.UnixNano(), 36) + "/" + g.MembersETag
}

func newSnapshot(version string, members []greep.Member) *snapshot {
	ms := slices.Clone(members)
	slices.SortStableFunc(ms, compareMembers)
	h := fnv.New64a()
	for _, m := range ms {
		for _, s := range [...]string{m.ID, m.Email, m.Role, m.Type, m.Status} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	return &snapshot{version: version, members: ms, hash: h.Sum64()}
}

func compareMembers(a, b greep.Member) int {
	return cmp.Or(cmp.Compare(a.Email, b.Email), cmp.Compare(a.ID, b.ID))
}

// memberCursor is where a page of a member list ends: the (email, id) of its last member.
// Unlike an offset it stays right when the snapshot changes between two pages.
func memberCursor(m greep.Member) string { return m.Email + "\x00" + m.ID }

// after returns the index of the first member after cursor.
func (s *snapshot) after(cursor string) int {
	if cursor == "" {
		return 0
	}
	email, id, _ := strings.Cut(cursor, "\x00")
	i, found := slices.BinarySearchFunc(s.members, greep.Member{Email: email, ID: id}, compareMembers)
	if found {
		i++
	}
	return i
}

func (s *snapshot) v1JSON() [][]byte {
	s.v1Once.Do(func() {
		s.v1 = make([][]byte, len(s.members))
		for i, m := range s.members {
			b := make([]byte, 0, 64+len(m.ID)+len(m.Email))
			b = append(b, '{')
			b = appendField(b, true, "id", m.ID)
			b = appendField(b, false, "email", m.Email)
			b = appendField(b, false, "role", m.Role)
			b = appendField(b, false, "type", m.Type)
			b = appendField(b, false, "status", m.Status)
			s.v1[i] = append(b, '}')
		}
	})
	return s.v1
}

func (s *snapshot) dirJSON() [][]byte {
	s.dirOnce.Do(func() {
		s.dir = make([][]byte, len(s.members))
		for i, m := range s.members {
			s.dir[i] = appendDirMember(nil, m)
		}
	})
	return s.dir
}

// memberETag is a Member resource's etag: a quoted hash of its fields, as Google's etags
// are quoted opaque strings.
func memberETag(m greep.Member) string {
	h := fnv.New64a()
	for _, s := range [...]string{m.ID, m.Email, m.Role, m.Type, m.Status} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return quotedHash(h.Sum64())
}

func quotedHash(h uint64) string { return `"` + strconv.FormatUint(h, 36) + `"` }

func appendDirMember(b []byte, m greep.Member) []byte {
	b = append(b, `{"kind":"admin#directory#member"`...)
	b = appendField(b, false, "etag", memberETag(m))
	b = appendField(b, false, "id", m.ID)
	if m.Email != "" { // CUSTOMER members have none, as on Google
		b = appendField(b, false, "email", m.Email)
	}
	b = appendField(b, false, "role", m.Role)
	b = appendField(b, false, "type", m.Type)
	if m.Status != "" {
		b = appendField(b, false, "status", m.Status)
	}
	return append(b, '}')
}

// pageETag is the entity tag of one page of a list: the list's content hash and the
// page's bounds. syncedAt is deliberately not part of it, so a re-sync that finds the same
// members keeps answering 304.
func pageETag(contentHash uint64, parts ...string) string {
	h := fnv.New64a()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], contentHash)
	h.Write(n[:])
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return quotedHash(h.Sum64())
}

// snapshots keeps rendered snapshots of recently read groups, up to a budget of members.
type snapshots struct {
	store  Store
	budget int

	mu   sync.Mutex
	m    map[string]*snapshot // by group id
	used int
}

func newSnapshots(store Store, budget int) *snapshots {
	return &snapshots{store: store, budget: budget, m: map[string]*snapshot{}}
}

// get returns g's current member snapshot, reading the store only when the cached one is
// of another version.
func (c *snapshots) get(ctx context.Context, g greep.Group) (*snapshot, error) {
	v := snapshotVersion(g)
	c.mu.Lock()
	s, ok := c.m[g.ID]
	c.mu.Unlock()
	if ok && s.version == v {
		return s, nil
	}
	ms, err := c.store.Members(ctx, g.ID)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", g.Email, err)
	}
	s = newSnapshot(v, ms)
	c.put(g.ID, s)
	return s, nil
}

func (c *snapshots) put(id string, s *snapshot) {
	n := len(s.members) + 1
	if n > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok {
		c.used -= len(old.members) + 1
	}
	// Evict arbitrary entries (map order is random) until the new one fits: cheap, and
	// fair enough for a cache whose misses cost one store read.
	for id2, old := range c.m {
		if c.used+n <= c.budget {
			break
		}
		delete(c.m, id2)
		c.used -= len(old.members) + 1
	}
	c.m[id] = s
	c.used += n
}

func (c *snapshots) peek(key string) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func hashBytes(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}
