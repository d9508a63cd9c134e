package api

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
)

// A snapshot is one group's member list as the store holds it (or an expansion of it),
// sorted by (email, id) and rendered, a block at a time as pages need it, into the JSON
// pieces both API surfaces need. Its members never change, so pages are cut from it
// without locks.
type snapshot struct {
	version string
	members []greep.Member
	// hash identifies the members' contents: equal lists give equal hashes, which is what
	// page ETags are made of.
	hash uint64
	// groups are the members that are groups, which walks through nesting follow without
	// scanning every user.
	groups []greep.Member

	// provisional holds, by folded email, the activity id of members whose change a
	// notification announced and Google's read has not confirmed yet: /v1 flags them,
	// the Directory-compatible surface shows Google's shape only.
	provisional map[string]string

	v1  fragments // {"id","email","role","type","status"[,"provisional","activityId"]}
	dir fragments // Directory API Member resources

	pages pageCache // whole pages, encoded once (pagecache.go)
}

// renderBlock is how many members are rendered together, on first need: a client reading
// the first pages of a 20,000-member expansion has those pages rendered, not the list.
const renderBlock = 256

// fragments are one surface's rendering of a snapshot's members, made a block at a time
// and kept: concurrent readers of a block wait for one rendering of it.
type fragments struct {
	init   sync.Once
	blocks []sync.Once
	b      [][]byte
}

// page returns the rendered members [i, j).
func (f *fragments) page(members []greep.Member, i, j int, render func(greep.Member) []byte) [][]byte {
	f.init.Do(func() {
		f.blocks = make([]sync.Once, (len(members)+renderBlock-1)/renderBlock)
		f.b = make([][]byte, len(members))
	})
	for blk := i / renderBlock; blk*renderBlock < j; blk++ {
		f.blocks[blk].Do(func() {
			for k := blk * renderBlock; k < min((blk+1)*renderBlock, len(members)); k++ {
				f.b[k] = render(members[k])
			}
		})
	}
	return f.b[i:j]
}

// snapshotVersion names a group's member snapshot. MembersETag is Google's etag the
// members were read under (it changes whenever the membership does) and MembersSyncedAt
// changes with every replacement, so an unchanged version means unchanged members.
func snapshotVersion(g greep.Group) string {
	return strconv.FormatInt(g.MembersSyncedAt.UnixNano(), 36) + "/" + g.MembersETag
}

// isVersionOf reports whether s.version is snapshotVersion(g), without building it: every
// member read asks.
func (s *snapshot) isVersionOf(g greep.Group) bool {
	var b [16]byte
	t := strconv.AppendInt(b[:0], g.MembersSyncedAt.UnixNano(), 36)
	v, ok := strings.CutPrefix(s.version, string(t))
	return ok && len(v) == 1+len(g.MembersETag) && v[0] == '/' && v[1:] == g.MembersETag
}

func newSnapshot(version string, members []greep.Member) *snapshot {
	ms := slices.Clone(members)
	slices.SortStableFunc(ms, compareMembers)
	h := fnv.New64a()
	var groups []greep.Member
	for _, m := range ms {
		for _, s := range [...]string{m.ID, m.Email, m.Role, m.Type, m.Status} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		if m.Type == greep.TypeGroup {
			groups = append(groups, m)
		}
	}
	return &snapshot{version: version, members: ms, hash: h.Sum64(), groups: groups}
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

// flag marks the members whose folded email is in activities as provisional. The
// flags are part of the content hash, so a confirmation that leaves the members as they
// were still changes the pages' ETags.
func (s *snapshot) flag(activities map[string]string) {
	if len(activities) == 0 {
		return
	}
	s.provisional = activities
	h := fnv.New64a()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], s.hash)
	h.Write(n[:])
	for _, k := range slices.Sorted(maps.Keys(activities)) {
		h.Write([]byte(k + "\x00" + activities[k] + "\x00"))
	}
	s.hash = h.Sum64()
}

// v1Page returns members [i, j) rendered for /v1.
func (s *snapshot) v1Page(i, j int) [][]byte {
	return s.v1.page(s.members, i, j, func(m greep.Member) []byte {
		return renderV1Member(m, s.provisional[strings.ToLower(m.Email)])
	})
}

// dirMember returns member k rendered as a Directory API Member resource.
func (s *snapshot) dirMember(k int) []byte {
	return s.dir.page(s.members, k, k+1, func(m greep.Member) []byte { return appendDirMember(nil, m) })[0]
}

// renderV1Member renders m for /v1; activityID, when set, flags it provisional.
func renderV1Member(m greep.Member, activityID string) []byte {
	b := make([]byte, 0, 64+len(m.ID)+len(m.Email)+len(activityID))
	b = append(b, '{')
	b = appendField(b, true, "id", m.ID)
	b = appendField(b, false, "email", m.Email)
	b = appendField(b, false, "role", m.Role)
	b = appendField(b, false, "type", m.Type)
	b = appendField(b, false, "status", m.Status)
	if activityID != "" {
		b = append(b, `,"provisional":true`...)
		b = appendField(b, false, "activityId", activityID)
	}
	return append(b, '}')
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
	c.mu.Lock()
	s, ok := c.m[g.ID]
	c.mu.Unlock()
	if ok && s.isVersionOf(g) {
		return s, nil
	}
	ms, err := c.store.Members(ctx, g.ID)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", g.Email, err)
	}
	s = newSnapshot(snapshotVersion(g), ms)
	if provisional.BaseETag(g.MembersETag) != g.MembersETag {
		marks, err := provisional.Load(ctx, c.store, g.ID)
		if err != nil {
			return nil, fmt.Errorf("provisional members of %s: %w", g.Email, err)
		}
		s.flag(marks.ActivityIDs())
	}
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
