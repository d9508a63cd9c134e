package provisional

import "sync"

// groupLocks serialise the applies of one group within a process: the notifications of a
// burst on one group arrive together, and each reads the snapshot and marks it rewrites.
// Entries live only while held, so the map stays as small as the groups being applied.
type groupLocks struct {
	mu sync.Mutex
	m  map[string]*groupLock
}

type groupLock struct {
	sync.Mutex
	holders int
}

// lock locks group id and returns its unlock.
func (l *groupLocks) lock(id string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*groupLock{}
	}
	g := l.m[id]
	if g == nil {
		g = &groupLock{}
		l.m[id] = g
	}
	g.holders++
	l.mu.Unlock()
	g.Lock()
	return func() {
		g.Unlock()
		l.mu.Lock()
		if g.holders--; g.holders == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}
