package memory

import (
	"context"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// PutUsers implements greep.DirectoryStore. A batch with one bad user stores none.
func (s *Store) PutUsers(ctx context.Context, users []greep.User) error {
	if err := s.intercepted("PutUsers"); err != nil {
		return err
	}
	encoded := make([][]byte, len(users))
	for i, u := range users {
		if err := cache.CheckUser(u); err != nil {
			return err
		}
		b, err := encode("user "+u.ID, u)
		if err != nil {
			return err
		}
		encoded[i] = b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, u := range users {
		if b, ok := s.users[u.ID]; ok {
			var old greep.User
			if err := decode("user "+u.ID, b, &old); err != nil {
				return err
			}
			s.unindexUser(old)
		}
		s.users[u.ID] = encoded[i]
		s.userEmail[cache.FoldEmail(u.PrimaryEmail)] = u.ID
		for _, a := range u.AllAliases() {
			s.userAlias[cache.FoldEmail(a)] = u.ID
		}
	}
	return nil
}

// unindexUser drops u's index entries that still point at u (an address another user
// has taken since stays theirs).
func (s *Store) unindexUser(u greep.User) {
	if k := cache.FoldEmail(u.PrimaryEmail); s.userEmail[k] == u.ID {
		delete(s.userEmail, k)
	}
	for _, a := range u.AllAliases() {
		if k := cache.FoldEmail(a); s.userAlias[k] == u.ID {
			delete(s.userAlias, k)
		}
	}
}

// User implements greep.DirectoryStore.
func (s *Store) User(ctx context.Context, k string) (greep.User, error) {
	if err := s.intercepted("User"); err != nil {
		return greep.User{}, err
	}
	if err := cache.CheckKey("user key", k); err != nil {
		return greep.User{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id := k
	if _, ok := s.users[id]; !ok {
		var found bool
		if id, found = s.userEmail[cache.FoldEmail(k)]; !found {
			id = s.userAlias[cache.FoldEmail(k)]
		}
	}
	b, ok := s.users[id]
	if !ok {
		return greep.User{}, greep.Errorf(greep.ENOTFOUND, "user %s not found", k)
	}
	var u greep.User
	return u, decode("user "+id, b, &u)
}

// Users implements greep.DirectoryStore.
func (s *Store) Users(ctx context.Context, q greep.UserQuery) ([]greep.User, string, error) {
	if err := s.intercepted("Users"); err != nil {
		return nil, "", err
	}
	if err := cache.CheckUserStatus(q.Status); err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	byKey := map[string]greep.User{}
	var keys []string
	for email, id := range s.userEmail {
		var u greep.User
		if err := decode("user "+id, s.users[id], &u); err != nil {
			return nil, "", err
		}
		if q.Status != "" && u.Status() != q.Status {
			continue
		}
		byKey[email] = u
		keys = append(keys, email)
	}
	sel, next, err := page(keys, "", q.Token, cache.PageSize(q.Page))
	if err != nil {
		return nil, "", err
	}
	out := make([]greep.User, 0, len(sel))
	for _, k := range sel {
		out = append(out, byKey[k])
	}
	return out, next, nil
}

// DeleteUser implements greep.DirectoryStore.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := s.intercepted("DeleteUser"); err != nil {
		return err
	}
	if err := cache.CheckKey("user id", id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.users[id]
	if !ok {
		return nil
	}
	var u greep.User
	if err := decode("user "+id, b, &u); err != nil {
		return err
	}
	s.unindexUser(u)
	delete(s.users, id)
	return nil
}

// PutSettings implements greep.DirectoryStore.
func (s *Store) PutSettings(ctx context.Context, gs greep.GroupSettings) error {
	if err := s.intercepted("PutSettings"); err != nil {
		return err
	}
	if err := cache.CheckKey("group email", gs.GroupEmail); err != nil {
		return err
	}
	b, err := encode("settings of "+gs.GroupEmail, gs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := cache.FoldEmail(gs.GroupEmail)
	if cur, ok := s.settings[k]; ok {
		var old greep.GroupSettings
		if err := decode("settings of "+gs.GroupEmail, cur, &old); err != nil {
			return err
		}
		if err := cache.CheckSettingsNewer(gs, old); err != nil {
			return err
		}
	}
	s.settings[k] = b
	return nil
}

// Settings implements greep.DirectoryStore.
func (s *Store) Settings(ctx context.Context, groupEmail string) (greep.GroupSettings, error) {
	if err := s.intercepted("Settings"); err != nil {
		return greep.GroupSettings{}, err
	}
	if err := cache.CheckKey("group email", groupEmail); err != nil {
		return greep.GroupSettings{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.settings[cache.FoldEmail(groupEmail)]
	if !ok {
		return greep.GroupSettings{}, greep.Errorf(greep.ENOTFOUND, "settings of %s not found", groupEmail)
	}
	var gs greep.GroupSettings
	return gs, decode("settings of "+groupEmail, b, &gs)
}
