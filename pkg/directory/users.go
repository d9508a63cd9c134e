package directory

import (
	"time"

	admin "google.golang.org/api/admin/directory/v1"

	"github.com/greephq/greep/pkg/greep"
)

// fromUser is a users.list entry as the cache keeps it: the keys Google accepts for the
// user (primary email, aliases) and what hygiene judges (suspended, archived).
func fromUser(u *admin.User, now time.Time) greep.User {
	return greep.User{
		ID:                 u.Id,
		PrimaryEmail:       u.PrimaryEmail,
		Aliases:            u.Aliases,
		NonEditableAliases: u.NonEditableAliases,
		Suspended:          u.Suspended,
		Archived:           u.Archived,
		SyncedAt:           now,
	}
}
