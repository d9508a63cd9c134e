package api

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// isVersionOf answers as comparing with snapshotVersion would, for etags holding the
// separator and times that differ only in their last digit.
func TestIsVersionOf(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	groups := []greep.Group{
		{MembersETag: `"e1"`, MembersSyncedAt: at},
		{MembersETag: `"e1"`, MembersSyncedAt: at.Add(1)},
		{MembersETag: `"e2"`, MembersSyncedAt: at},
		{MembersETag: `"e1"/p`, MembersSyncedAt: at},
		{MembersETag: `/"e1"`, MembersSyncedAt: at},
		{MembersETag: "", MembersSyncedAt: at},
		{MembersETag: `"e1"`},
		{},
	}
	for _, a := range groups {
		s := &snapshot{version: snapshotVersion(a)}
		for _, b := range groups {
			if got, want := s.isVersionOf(b), snapshotVersion(a) == snapshotVersion(b); got != want {
				t.Errorf("snapshot %q isVersionOf(%q) = %v, want %v", s.version, snapshotVersion(b), got, want)
			}
		}
	}
}
