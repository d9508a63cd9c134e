package history

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func TestChangeEvent(t *testing.T) {
	c := greep.Change{Cursor: 7, Time: t0, Group: "g@example.com", Member: "m@example.com", Kind: greep.ChangeRoleChanged,
		Before: &greep.ChangeValue{Role: "MEMBER"}, After: &greep.ChangeValue{Role: "OWNER"}, ChangeCause: greep.ChangeCause{Cause: greep.CauseFullSync}}
	e, ok := ChangeEvent(c, true)
	if !ok || e.ID != "change:7" || e.Event != "UPDATE_GROUP_MEMBER" || e.Setting != "role" || e.OldValue != "MEMBER" || e.NewValue != "OWNER" || e.Cause != greep.CauseFullSync {
		t.Fatalf("role change: %+v %v", e, ok)
	}
	if _, ok := ChangeEvent(c, false); ok {
		t.Error("a baseline full sync record became an event")
	}
	for _, cause := range []string{greep.CausePush, ""} {
		c.Cause = cause
		if _, ok := ChangeEvent(c, true); ok {
			t.Errorf("a record of cause %q became an event", cause)
		}
	}
}
