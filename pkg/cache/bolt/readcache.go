package bolt

import (
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// readCache keeps decoded member snapshots, so the read API's hot path (one group's
// members, many times a second) is a map lookup and a copy instead of a transaction and
// a decode. It is exact, not eventually right: this process is the file's only writer
// (bbolt holds an exclusive lock), and every write that changes a snapshot brackets its
// transaction with startWrite (before) and endWrite (after the commit).
//
// While a group is being written the cache neither serves nor keeps its list: between
// the commit and the invalidation a reader that had already read the group's new
// metadata would otherwise get the old list, and the read API would keep that pair
// under the new version for good. A reader that missed may only fill the cache if no
// write began or ended between the moment it looked (begin) and the moment it fills
// (put): otherwise it could store a list read before a write's commit.
type readCache struct {
	mu       sync.RWMutex
	seq      uint64 // writes begun or ended so far
	m        map[string][]greep.Member
	members  int
	inFlight map[string]int // groups with a write in flight, and how many
}

// maxCachedMembers bounds the cache at about 100 MB of members; when full it starts over.
const maxCachedMembers = 1 << 20

func (c *readCache) get(groupID string) ([]greep.Member, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.inFlight[groupID] > 0 {
		return nil, false
	}
	ms, ok := c.m[groupID]
	return ms, ok
}

func (c *readCache) begin() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seq
}

// put stores ms, which the caller must never modify, unless an invalidation came after
// begin returned seq.
func (c *readCache) put(seq uint64, groupID string, ms []greep.Member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq || c.inFlight[groupID] > 0 || len(ms) > maxCachedMembers/4 {
		return
	}
	if c.m == nil || c.members+len(ms) > maxCachedMembers {
		c.m, c.members = map[string][]greep.Member{}, 0
	}
	c.m[groupID] = ms
	c.members += len(ms)
}

// startWrite marks the groups as being written, before the write's transaction.
func (c *readCache) startWrite(groupIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if c.inFlight == nil {
		c.inFlight = map[string]int{}
	}
	for _, id := range groupIDs {
		c.inFlight[id]++
		c.drop(id)
	}
}

// endWrite ends what startWrite began, after the transaction committed (or failed).
func (c *readCache) endWrite(groupIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	for _, id := range groupIDs {
		if c.inFlight[id]--; c.inFlight[id] <= 0 {
			delete(c.inFlight, id)
		}
		c.drop(id)
	}
}

func (c *readCache) drop(groupID string) {
	if ms, ok := c.m[groupID]; ok {
		c.members -= len(ms)
		delete(c.m, groupID)
	}
}
