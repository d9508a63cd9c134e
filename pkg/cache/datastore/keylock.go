package datastore

import (
	"context"
	"sync"
)

// keyLocks lets one read-modify-write transaction at a time in this process run on an
// entity. Datastore serialises them anyway, but on Firestore's locks two that meet wait
// on each other until one is aborted and retried: 20 concurrent updates of one finding
// on its emulator ran out of their 10 attempts. Queued here, they run one after another
// at a commit's latency; writers in other processes still meet in Datastore.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds a token while the key is locked
	refs int           // holders and waiters, under keyLocks.mu
}

// lock waits until key is free in this process, or ctx ends; the returned func frees it.
func (l *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*keyLock{}
	}
	k := l.locks[key]
	if k == nil {
		k = &keyLock{ch: make(chan struct{}, 1)}
		l.locks[key] = k
	}
	k.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if k.refs--; k.refs == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
	select {
	case k.ch <- struct{}{}:
		return func() {
			<-k.ch
			release()
		}, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
