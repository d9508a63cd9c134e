package bolt

import (
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// readCache keeps decoded member snapshots, so the read API's hot path (one group's
// members, many times a second) is a map lookup and a copy instead of a transaction and
// a decode. It is exact, not eventually right: this process is the file's only writer
// (bbolt holds an exclusive lock), and every write that changes a snapshot invalidates
// it after its commit.
//
// A reader that missed may only fill the cache if no write was invalidated between the
// moment it looked (begin) and the moment it fills (put): otherwise it could store a
// list read before a write whose invalidation already passed.
type readCache struct {
	mu      sync.RWMutex
	seq     uint64 // invalidations so far
	m       map[string][]greep.Member
	members int
}

// maxCachedMembers bounds the cache at about 100 MB of members; when full it starts over.
const maxCachedMembers = 1 << 20

func (c *readCache) get(groupID string) ([]greep.Member, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
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
	if c.seq != seq || len(ms) > maxCachedMembers/4 {
		return
	}
	if c.m == nil || c.members+len(ms) > maxCachedMembers {
		c.m, c.members = map[string][]greep.Member{}, 0
	}
	c.m[groupID] = ms
	c.members += len(ms)
}

func (c *readCache) invalidate(groupID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if ms, ok := c.m[groupID]; ok {
		c.members -= len(ms)
		delete(c.m, groupID)
	}
}
