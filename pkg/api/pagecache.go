package api

import "sync"

// A snapshot's pages are encoded once and kept with it: the snapshot never changes, so a
// page cut from it at the same cursor, size and roles is the same bytes until the group's
// members change, and then a new snapshot (with no pages) replaces it. A hot page then
// costs a map lookup and a write instead of stitching and hashing 200 members (kept.go).
//
// What is kept is bounded by the snapshot: pages holding at most pageCacheFactor times its
// members (one pass over the list on each surface), so the member budget of the snapshot
// cache (Config.CacheMembers) also bounds the pages, at about twice the memory a member
// takes rendered. Pages past the bound are encoded per request, as before.
const pageCacheFactor = 2

// pageKey names one encoded page of a snapshot.
type pageKey struct {
	surface string // "v1" or "dir": the two surfaces encode members differently
	cursor  string
	roles   string
	limit   int
}

type pageCache struct {
	mu      sync.Mutex
	m       map[pageKey]*keptPage
	members int // members in the kept pages, each empty page counted as one
}

// get returns the page k, if kept.
func (c *pageCache) get(k pageKey) (*keptPage, bool) {
	c.mu.Lock()
	p, ok := c.m[k]
	c.mu.Unlock()
	return p, ok
}

// put keeps p, a page of n members of a snapshot of total members, unless the pages kept
// would then hold more than the bound.
func (c *pageCache) put(k pageKey, p *keptPage, n, total int) {
	cost := max(n, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok || c.members+cost > pageCacheFactor*max(total, 1) {
		return
	}
	if c.m == nil {
		c.m = map[pageKey]*keptPage{}
	}
	c.m[k] = p
	c.members += cost
}
