package api

import (
	"context"
	"errors"
	"strings"

	"github.com/greephq/greep/pkg/greep"
)

// memberRef is whom a member or user key names, as member lists and the reverse index
// hold it: an id and a primary email. Google accepts a primary email, an alias or the
// unique id wherever it takes a user or group key, and so does Greep; this is the one
// place that turns any of them into what the cache is keyed by.
type memberRef struct{ id, email string }

// resolveMember resolves key through the user directory, then the groups (both know
// their aliases). A key neither knows (an outside address, or a user the directory has
// not read yet) stands for itself.
func (s *server) resolveMember(ctx context.Context, key string) (memberRef, error) {
	u, err := s.store.User(ctx, key)
	if err == nil {
		return memberRef{id: u.ID, email: u.PrimaryEmail}, nil
	}
	if !errors.Is(err, greep.ErrNotFound) {
		return memberRef{}, err
	}
	g, err := s.lookupGroup(ctx, key)
	if err == nil {
		return memberRef{id: g.ID, email: g.Email}, nil
	}
	if !errors.Is(err, greep.ErrNotFound) {
		return memberRef{}, err
	}
	if strings.Contains(key, "@") {
		return memberRef{email: key}, nil
	}
	return memberRef{id: key}, nil
}

// matches tells whether m is the member ref names.
func (ref memberRef) matches(m greep.Member) bool {
	return (ref.id != "" && m.ID == ref.id) || (ref.email != "" && m.Email != "" && strings.EqualFold(m.Email, ref.email))
}

// indexKey is the key to ask the reverse index (MemberOf) with.
func (ref memberRef) indexKey() string {
	if ref.id != "" {
		return ref.id
	}
	return ref.email
}
