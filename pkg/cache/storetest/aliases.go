package storetest

import (
	"errors"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// testGroupNonEditableAliases: a group's non-editable aliases are keys of it as its
// aliases are, and stop being so when the group loses them.
func testGroupNonEditableAliases(t *testing.T, s greep.Store) {
	g := group("g1", "g1@example.com", "one@example.com")
	g.NonEditableAliases = []string{"g1@example.test-google-a.com"}
	must(t, s.PutGroups(ctx, []greep.Group{g}))
	for _, k := range []string{"one@example.com", "G1@example.test-google-a.com"} {
		if got, err := s.Group(ctx, k); err != nil || got.ID != "g1" {
			t.Errorf("Group(%q) = %+v, %v", k, got, err)
		}
	}
	g.NonEditableAliases = nil
	must(t, s.PutGroups(ctx, []greep.Group{g}))
	if _, err := s.Group(ctx, "g1@example.test-google-a.com"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("a dropped non-editable alias still finds the group: %v", err)
	}
}
