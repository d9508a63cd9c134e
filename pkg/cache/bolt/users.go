package bolt

import (
	"context"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// Users: one JSON value per user, indexed by folded primary email (which also orders the
// listing) and by folded alias, so a key in any of Google's three forms finds the user.

// PutUsers implements greep.DirectoryStore.
func (s *Store) PutUsers(ctx context.Context, users []greep.User) error {
	for _, u := range users {
		if err := cache.CheckUser(u); err != nil {
			return err
		}
	}
	return s.update(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(bUsers)
		for _, u := range users {
			var old greep.User
			found, err := getJSON(ub, []byte(u.ID), "user", &old)
			if err != nil {
				return err
			}
			if found {
				if err := unindexUser(tx, old); err != nil {
					return err
				}
			}
			if err := putJSON(ub, []byte(u.ID), "user "+u.ID, u); err != nil {
				return err
			}
			if err := tx.Bucket(bUserEmail).Put([]byte(cache.FoldEmail(u.PrimaryEmail)), []byte(u.ID)); err != nil {
				return err
			}
			for _, a := range u.AllAliases() {
				if err := tx.Bucket(bUserAlias).Put([]byte(cache.FoldEmail(a)), []byte(u.ID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// unindexUser drops u's index entries that still point at u (an address another user has
// taken since stays theirs).
func unindexUser(tx *bbolt.Tx, u greep.User) error {
	drop := func(b *bbolt.Bucket, addr string) error {
		k := []byte(cache.FoldEmail(addr))
		if string(b.Get(k)) != u.ID {
			return nil
		}
		return b.Delete(k)
	}
	if err := drop(tx.Bucket(bUserEmail), u.PrimaryEmail); err != nil {
		return err
	}
	for _, a := range u.AllAliases() {
		if err := drop(tx.Bucket(bUserAlias), a); err != nil {
			return err
		}
	}
	return nil
}

// User implements greep.DirectoryStore.
func (s *Store) User(ctx context.Context, k string) (greep.User, error) {
	if err := cache.CheckKey("user key", k); err != nil {
		return greep.User{}, err
	}
	var u greep.User
	err := s.view(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(bUsers)
		id := []byte(k)
		if ub.Get(id) == nil {
			folded := []byte(cache.FoldEmail(k))
			if id = tx.Bucket(bUserEmail).Get(folded); id == nil {
				id = tx.Bucket(bUserAlias).Get(folded)
			}
		}
		found, err := getJSON(ub, id, "user", &u)
		if err == nil && !found {
			err = greep.Errorf(greep.ENOTFOUND, "user %s not found", k)
		}
		return err
	})
	return u, err
}

// Users implements greep.DirectoryStore.
func (s *Store) Users(ctx context.Context, q greep.UserQuery) ([]greep.User, string, error) {
	if err := cache.CheckUserStatus(q.Status); err != nil {
		return nil, "", err
	}
	var (
		out  []greep.User
		next string
	)
	err := s.view(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(bUsers)
		var err error
		next, err = scan(tx.Bucket(bUserEmail), nil, nil, q.Token, cache.PageSize(q.Page), func(_, id []byte) (bool, error) {
			var u greep.User
			found, err := getJSON(ub, id, "user", &u)
			if !found || err != nil || (q.Status != "" && u.Status() != q.Status) {
				return false, err
			}
			out = append(out, u)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// DeleteUser implements greep.DirectoryStore.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := cache.CheckKey("user id", id); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(bUsers)
		var u greep.User
		found, err := getJSON(ub, []byte(id), "user", &u)
		if err != nil || !found {
			return err
		}
		if err := unindexUser(tx, u); err != nil {
			return err
		}
		return ub.Delete([]byte(id))
	})
}
