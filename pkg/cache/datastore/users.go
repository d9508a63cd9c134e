package datastore

import (
	"context"
	"errors"

	ds "cloud.google.com/go/datastore"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// userEntity is a user: JSON, and the properties its lookups and listing query.
type userEntity struct {
	Email   string   // folded; indexed for lookup and listing order
	Aliases []string // folded; indexed for lookup
	Status  string   // ACTIVE, SUSPENDED or ARCHIVED; indexed for the status filter
	Data    []byte   `datastore:",noindex"`
}

// PutUsers implements greep.DirectoryStore.
func (s *Store) PutUsers(ctx context.Context, users []greep.User) error {
	ents := make([]userEntity, len(users))
	keys := make([]*ds.Key, len(users))
	for i, u := range users {
		if err := cache.CheckUser(u); err != nil {
			return err
		}
		data, err := marshal("user "+u.ID, u)
		if err != nil {
			return err
		}
		e := userEntity{Email: cache.FoldEmail(u.PrimaryEmail), Status: u.Status(), Data: data}
		for _, a := range u.AllAliases() {
			e.Aliases = append(e.Aliases, cache.FoldEmail(a))
		}
		ents[i], keys[i] = e, s.key(kindUser, u.ID, nil)
	}
	return wrap(inBatches(ctx, len(users), maxBatch, func(ctx context.Context, lo, hi int) error {
		_, err := s.putMulti(ctx, keys[lo:hi], ents[lo:hi])
		return err
	}), "put users")
}

// User implements greep.DirectoryStore.
func (s *Store) User(ctx context.Context, k string) (greep.User, error) {
	if err := cache.CheckKey("user key", k); err != nil {
		return greep.User{}, err
	}
	var e userEntity
	err := s.client.Get(ctx, s.key(kindUser, k, nil), &e)
	if errors.Is(err, ds.ErrNoSuchEntity) {
		err = s.first(ctx, &e, s.query(kindUser).FilterField("Email", "=", cache.FoldEmail(k)))
		if errors.Is(err, ds.ErrNoSuchEntity) {
			err = s.first(ctx, &e, s.query(kindUser).FilterField("Aliases", "=", cache.FoldEmail(k)))
		}
	}
	if errors.Is(err, ds.ErrNoSuchEntity) {
		return greep.User{}, greep.Errorf(greep.ENOTFOUND, "user %s not found", k)
	}
	if err != nil {
		return greep.User{}, wrap(err, "get user %s", k)
	}
	var u greep.User
	return u, unmarshal("user", e.Data, &u)
}

// Users implements greep.DirectoryStore. The status filter with the email order needs
// the composite index in deploy/index.yaml.
func (s *Store) Users(ctx context.Context, q greep.UserQuery) ([]greep.User, string, error) {
	if err := cache.CheckUserStatus(q.Status); err != nil {
		return nil, "", err
	}
	dq := s.query(kindUser)
	if q.Status != "" {
		dq = dq.FilterField("Status", "=", q.Status)
	}
	var out []greep.User
	next, err := s.page(ctx, dq.Order("Email"), q.Token, cache.PageSize(q.Page), func(it *ds.Iterator) error {
		var e userEntity
		if _, err := it.Next(&e); err != nil {
			return err
		}
		var u greep.User
		if err := unmarshal("user", e.Data, &u); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// DeleteUser implements greep.DirectoryStore.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := cache.CheckKey("user id", id); err != nil {
		return err
	}
	return wrap(s.delete(ctx, s.key(kindUser, id, nil)), "delete user %s", id)
}
