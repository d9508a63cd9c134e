package bench

import (
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/workspacesim"
)

// PlannedCalls is the Directory calls syncplan predicts for a full sync of the truth.
func PlannedCalls(truth workspacesim.Truth) map[string]int64 {
	gs := make([]greep.Group, 0, len(truth.Groups))
	for _, g := range truth.Groups {
		gs = append(gs, greep.Group{ID: g.ID, DirectMembersCount: g.DirectMembersCount})
	}
	return syncplan.FullSyncCalls(gs, len(truth.Users))
}
