package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/provisional"
)

// v1Settings is the answer of GET /v1/groups/{groupKey}/settings.
type v1Settings struct {
	// Settings are Google's last read with the values notifications announced since over
	// it; each announced one is also under Provisional until a read confirms it.
	Settings    greep.Settings                  `json:"settings"`
	ReadAt      *time.Time                      `json:"readAt,omitempty"` // absent: never read
	Provisional map[string]v1ProvisionalSetting `json:"provisional,omitempty"`
}

type v1ProvisionalSetting struct {
	Value      string    `json:"value"`
	ActivityID string    `json:"activityId"`
	AcceptedAt time.Time `json:"acceptedAt"`
}

// GET /v1/groups/{groupKey}/settings. A group whose settings were never read answers what
// notifications announced (possibly nothing), not 404: the group exists, and readers of
// a just-changed setting should see it as soon as members' readers do.
func (s *server) v1Settings(w http.ResponseWriter, r *http.Request) {
	g, err := s.group(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	gs, err := s.store.Settings(r.Context(), g.Email)
	if err != nil && !errors.Is(err, greep.ErrNotFound) {
		s.writeError(w, r, err)
		return
	}
	marks, err := provisional.LoadSettings(r.Context(), s.store, g.Email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	settings, announced := marks.Over(gs)
	out := v1Settings{Settings: settings}
	if out.Settings == nil {
		out.Settings = greep.Settings{}
	}
	if !gs.ReadAt.IsZero() {
		out.ReadAt = &gs.ReadAt
	}
	if len(announced) > 0 {
		out.Provisional = make(map[string]v1ProvisionalSetting, len(announced))
		for _, m := range announced {
			out.Provisional[m.Field] = v1ProvisionalSetting{Value: m.Value, ActivityID: m.ActivityID, AcceptedAt: m.AcceptedAt}
		}
	}
	s.writeJSON(w, r, out, "", gs.ReadAt)
}
