package memory

import (
	"context"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// feed is the change feed: records in cursor order, numbered under the store's lock, so
// cursor order is commit order.
type feed struct {
	records []greep.Change // cursors pruned+1 .. head
	head    uint64
	pruned  uint64
	changed cache.Signal
}

// appendChanges numbers and keeps changes. Called with mu held for writing, by the
// write that made them.
func (s *Store) appendChanges(changes []greep.Change) {
	if len(changes) == 0 {
		return
	}
	s.feed.head = cache.Number(changes, s.feed.head)
	s.feed.records = append(s.feed.records, changes...)
	s.feed.changed.Notify()
}

// ChangeLog implements greep.ChangeStore.
func (s *Store) ChangeLog(ctx context.Context) (greep.ChangeLog, error) {
	if err := s.intercepted("ChangeLog"); err != nil {
		return greep.ChangeLog{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return greep.ChangeLog{Head: s.feed.head, Pruned: s.feed.pruned}, nil
}

// Changes implements greep.ChangeStore.
func (s *Store) Changes(ctx context.Context, q greep.ChangeQuery) ([]greep.Change, uint64, error) {
	if err := s.intercepted("Changes"); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := cache.CheckSince(q.Since, greep.ChangeLog{Head: s.feed.head, Pruned: s.feed.pruned}); err != nil {
		return nil, 0, err
	}
	limit := cache.PageSize(greep.Page{Limit: q.Limit})
	out, next := []greep.Change{}, q.Since
	scanned := 0
	for _, c := range s.feed.records[q.Since-s.feed.pruned:] {
		if len(out) == limit || scanned == limit*cache.ScanFactor {
			break
		}
		scanned++
		next = c.Cursor
		if cache.MatchesGroup(c, q.Group) {
			out = append(out, c)
		}
	}
	return out, next, nil
}

// PruneChanges implements greep.ChangeStore.
func (s *Store) PruneChanges(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if err := s.intercepted("PruneChanges"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.feed.records) && n < limit && s.feed.records[n].Time.Before(cutoff) {
		n++
	}
	if n > 0 {
		s.feed.pruned = s.feed.records[n-1].Cursor
		s.feed.records = append([]greep.Change(nil), s.feed.records[n:]...)
	}
	return n, nil
}

// ChangeSignal implements greep.ChangeStore.
func (s *Store) ChangeSignal() <-chan struct{} { return s.feed.changed.Wait() }
