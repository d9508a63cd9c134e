package api

import (
	"sync"
	"time"
)

// A ttlCache keeps values that are costly to read or compute and cannot be validated
// cheaply, for a short time: groups' metadata (a store read and decode on every request)
// and the walks of nested groups. Within
// the TTL an answer may lag the store by at most that much, which is small next to how far
// the store itself lags Google; every answer still carries the syncedAt of the data it was
// made from.
type ttlCache[V any] struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu sync.Mutex
	m  map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](ttl time.Duration, now func() time.Time, max int) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, now: now, max: max, m: map[string]ttlEntry[V]{}}
}

func (c *ttlCache[V]) get(key string) (V, bool) {
	var zero V
	if c.ttl <= 0 {
		return zero, false
	}
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.expires) {
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V) {
	if c.ttl <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Drop the expired entries; if all are live, drop them all (a burst of distinct
		// keys is not what the cache is for).
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[key] = ttlEntry[V]{v: v, expires: now.Add(c.ttl)}
}
