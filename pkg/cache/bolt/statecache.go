package bolt

import (
	"bytes"
	"sync"
)

// stateCache keeps the state documents the workers read on every task (a sweep's state,
// twice a member run; a group's provisional changes, mostly absent), so such a read is a
// map lookup and a copy instead of a read transaction: those transactions and their
// bucket lookups were 2% of an origin sync's CPU. It is exact for the reasons readCache
// is: this process is the file's only writer, and UpdateState, the state bucket's only
// writer, brackets its transaction with startWrite and endWrite.
//
// A document with a write in flight is neither served nor kept, so a reader never sees
// an older document after a newer one; a reader that missed fills the cache only if no
// write began or ended since it looked, so it never puts back a document read before a
// commit.
type stateCache struct {
	mu       sync.RWMutex
	seq      uint64 // writes begun or ended so far
	m        map[string]stateEntry
	inFlight map[string]int
}

// stateEntry is a cached document, or the knowledge that there is none.
type stateEntry struct {
	doc   []byte
	found bool
}

// The cache's bounds: it holds at most maxCachedStates documents (absences included) of
// at most maxCachedStateSize bytes each, about 4 MiB, and starts over when full. Larger
// documents are read from the file each time.
const (
	maxCachedStates    = 1024
	maxCachedStateSize = 4 << 10
)

// get returns a copy of the cached document called name, whether there is one, and
// whether the cache knew.
func (c *stateCache) get(name string) (doc []byte, found, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.inFlight[name] > 0 {
		return nil, false, false
	}
	e, ok := c.m[name]
	if !ok || !e.found {
		return nil, false, ok
	}
	return bytes.Clone(e.doc), true, true
}

func (c *stateCache) begin() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seq
}

// put keeps a copy of doc (found false: there is none) as read after begin returned seq,
// unless a write began or ended since.
func (c *stateCache) put(seq uint64, name string, doc []byte, found bool) {
	if len(doc) > maxCachedStateSize {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq || c.inFlight[name] > 0 {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedStates {
		c.m = map[string]stateEntry{}
	}
	c.m[name] = stateEntry{doc: bytes.Clone(doc), found: found}
}

// startWrite marks name as being written, before the write's transaction.
func (c *stateCache) startWrite(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if c.inFlight == nil {
		c.inFlight = map[string]int{}
	}
	c.inFlight[name]++
	delete(c.m, name)
}

// endWrite ends what startWrite began, after the transaction committed (or failed): the
// next read takes the document from the file.
func (c *stateCache) endWrite(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if c.inFlight[name]--; c.inFlight[name] <= 0 {
		delete(c.inFlight, name)
	}
	delete(c.m, name)
}
