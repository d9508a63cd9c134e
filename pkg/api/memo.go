package api

import (
	"sync"
	"time"
)

// memo keeps rendered answers that are costly to compute and cannot be validated
// cheaply, for a short time. A user's groups are one such answer: checking it would mean
// reading every group it names. Within the TTL an answer may lag the store by at most
// that much, which is small next to how far the store itself lags Google; every answer
// still carries the syncedAt of the data it was made from.
type memo struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu sync.Mutex
	m  map[string]memoEntry
}

type memoEntry struct {
	body     []byte
	syncedAt time.Time
	expires  time.Time
}

func newMemo(ttl time.Duration, now func() time.Time, max int) *memo {
	return &memo{ttl: ttl, now: now, max: max, m: map[string]memoEntry{}}
}

func (m *memo) get(key string) (memoEntry, bool) {
	if m.ttl <= 0 {
		return memoEntry{}, false
	}
	m.mu.Lock()
	e, ok := m.m[key]
	m.mu.Unlock()
	if !ok || !m.now().Before(e.expires) {
		return memoEntry{}, false
	}
	return e, true
}

func (m *memo) put(key string, body []byte, syncedAt time.Time) {
	if m.ttl <= 0 {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.m) >= m.max {
		// Drop the expired entries; if all are live, drop them all (a burst of distinct
		// keys is not what the memo is for).
		for k, e := range m.m {
			if !now.Before(e.expires) {
				delete(m.m, k)
			}
		}
		if len(m.m) >= m.max {
			clear(m.m)
		}
	}
	m.m[key] = memoEntry{body: body, syncedAt: syncedAt, expires: now.Add(m.ttl)}
}
