package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// v1User is a user of the directory as /v1/users shows it.
type v1User struct {
	ID           string    `json:"id"`
	PrimaryEmail string    `json:"primaryEmail"`
	Aliases      []string  `json:"aliases"`
	Status       string    `json:"status"`
	SyncedAt     time.Time `json:"syncedAt"`
}

func toV1User(u greep.User) v1User {
	aliases := u.AllAliases()
	if aliases == nil {
		aliases = []string{}
	}
	return v1User{ID: u.ID, PrimaryEmail: u.PrimaryEmail, Aliases: aliases, Status: u.Status(), SyncedAt: u.SyncedAt}
}

type usersAnswer struct {
	Users         []v1User  `json:"users"`
	NextPageToken string    `json:"nextPageToken,omitempty"`
	SyncedAt      time.Time `json:"syncedAt"`
}

// GET /v1/users
func (s *server) v1Users(w http.ResponseWriter, r *http.Request) {
	params := s.queries.of(r)
	q := greep.UserQuery{Status: strings.ToUpper(params.Get("status"))}
	switch q.Status {
	case "", greep.UserActive, greep.UserSuspended, greep.UserArchived:
	default:
		s.writeError(w, r, errInvalid("Invalid value for status: %q (must be ACTIVE, SUSPENDED or ARCHIVED)", params.Get("status")))
		return
	}
	limit, err := maxResults(params, v1DefaultPage, v1MaxPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	query := "v1/users\x00" + q.Status
	if q.Token, err = s.tokens.decode(query, params.Get("pageToken")); err != nil {
		s.writeError(w, r, err)
		return
	}
	q.Limit = limit
	users, next, err := s.store.Users(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := usersAnswer{Users: make([]v1User, 0, len(users)), NextPageToken: s.tokens.encode(query, next), SyncedAt: s.cacheSyncedAt(r.Context())}
	for _, u := range users {
		out.Users = append(out.Users, toV1User(u))
	}
	s.writeJSON(w, r, out, "", out.SyncedAt)
}

// GET /v1/users/{userKey}: by primary email, alias or id.
func (s *server) v1User(w http.ResponseWriter, r *http.Request) {
	key := pathParam(r, "userKey")
	if err := checkKey("userKey", key); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.store.User(r.Context(), key)
	if errors.Is(err, greep.ErrNotFound) {
		err = greep.Errorf(greep.ENOTFOUND, "Resource Not Found: userKey %s", key)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, toV1User(u), "", u.SyncedAt)
}
