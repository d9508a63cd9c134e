package greep

// User statuses, as the read API shows them and as Directory member entries spell them.
const (
	UserActive    = "ACTIVE"
	UserSuspended = "SUSPENDED"
	UserArchived  = "ARCHIVED"
)

// Status is the user's state in one word: a suspended user is SUSPENDED even if also
// archived, since suspension is what takes access away first.
func (u User) Status() string {
	switch {
	case u.Suspended:
		return UserSuspended
	case u.Archived:
		return UserArchived
	}
	return UserActive
}

// UserQuery selects users; Status (ACTIVE, SUSPENDED, ARCHIVED) filters when set.
type UserQuery struct {
	Status string
	Page
}
