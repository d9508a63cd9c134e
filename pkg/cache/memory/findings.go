package memory

import (
	"context"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// UpdateFinding implements greep.FindingStore. fn runs without the store's lock (it may
// read the store) and runs again if another write to the finding came first, as a
// Datastore transaction retries; fn may not change the finding's id.
func (s *Store) UpdateFinding(ctx context.Context, id string, fn func(f *greep.Finding) error) (greep.Finding, error) {
	if err := s.intercepted("UpdateFinding"); err != nil {
		return greep.Finding{}, err
	}
	if err := cache.CheckKey("finding id", id); err != nil {
		return greep.Finding{}, err
	}
	version := "finding/" + id
	for {
		s.mu.RLock()
		cur, found := s.findings[id]
		seen := s.versions[version]
		s.mu.RUnlock()
		var f greep.Finding
		if found {
			if err := decode("finding "+id, cur, &f); err != nil {
				return greep.Finding{}, err
			}
		}
		if err := fn(&f); err != nil {
			return greep.Finding{}, err
		}
		if f.ID == "" {
			f.ID = id
		}
		if f.ID != id {
			return greep.Finding{}, greep.Errorf(greep.EINVALID, "finding %s: the update changed its id to %q", id, f.ID)
		}
		b, err := encode("finding "+id, f)
		if err != nil {
			return greep.Finding{}, err
		}
		s.mu.Lock()
		if s.versions[version] != seen {
			s.mu.Unlock()
			continue
		}
		s.findings[id] = b
		s.versions[version]++
		s.mu.Unlock()
		return f, nil
	}
}

// Finding implements greep.FindingStore.
func (s *Store) Finding(ctx context.Context, id string) (greep.Finding, error) {
	if err := s.intercepted("Finding"); err != nil {
		return greep.Finding{}, err
	}
	if err := cache.CheckKey("finding id", id); err != nil {
		return greep.Finding{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.findings[id]
	if !ok {
		return greep.Finding{}, greep.Errorf(greep.ENOTFOUND, "finding %s not found", id)
	}
	var f greep.Finding
	return f, decode("finding "+id, b, &f)
}

// Findings implements greep.FindingStore; findings come in id order.
func (s *Store) Findings(ctx context.Context, q greep.FindingQuery) ([]greep.Finding, string, error) {
	if err := s.intercepted("Findings"); err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	group := cache.FoldEmail(q.Group)
	byID := map[string]greep.Finding{}
	var ids []string
	for id, b := range s.findings {
		var f greep.Finding
		if err := decode("finding "+id, b, &f); err != nil {
			return nil, "", err
		}
		if (q.Group != "" && cache.FoldEmail(f.Group) != group) || (q.State != "" && f.State != q.State) {
			continue
		}
		byID[id] = f
		ids = append(ids, id)
	}
	sel, next, err := page(ids, "", q.Token, cache.PageSize(q.Page))
	if err != nil {
		return nil, "", err
	}
	out := make([]greep.Finding, len(sel))
	for i, id := range sel {
		out[i] = byID[id]
	}
	return out, next, nil
}
