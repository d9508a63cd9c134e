package api

import (
	"context"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// A feedHead keeps the change feed's head between requests, so that the hot paths (a
// member page's cursor, whether a user's groups are current) do not read the store for
// it: the head kept is dropped as soon as the store signals a record committed by this
// process, and otherwise after the TTL. The embedded store has no other writer (bbolt's
// lock), so there it is exact; on Datastore a record another instance committed shows
// within the TTL, as group metadata does. A head read earlier than the store's is still
// a true cursor for an answer made after it: every change up to it is in the answer.
type feedHead struct {
	feed feedStore
	now  func() time.Time
	ttl  time.Duration

	mu      sync.Mutex
	log     greep.ChangeLog
	read    time.Time
	changed <-chan struct{} // nil: nothing kept
}

func (h *feedHead) get(ctx context.Context) (greep.ChangeLog, error) {
	if h.ttl > 0 {
		h.mu.Lock()
		l, read, changed := h.log, h.read, h.changed
		h.mu.Unlock()
		if changed != nil && h.now().Sub(read) < h.ttl {
			select {
			case <-changed:
			default:
				return l, nil
			}
		}
	}
	changed := h.feed.ChangeSignal() // before the read: a commit after it drops what is kept
	read := h.now()
	l, err := h.feed.ChangeLog(ctx)
	if err != nil {
		return greep.ChangeLog{}, err
	}
	h.mu.Lock()
	if !read.Before(h.read) {
		h.log, h.read, h.changed = l, read, changed
	}
	h.mu.Unlock()
	return l, nil
}
