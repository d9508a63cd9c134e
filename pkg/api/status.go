package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/greep"
)

// statusAnswer is /v1/status.
type statusAnswer struct {
	Sync     syncStatus                  `json:"sync"`
	Queues   map[string]greep.QueueStat  `json:"queues"`
	Quota    map[string]greep.QuotaUsage `json:"quota"`
	Channels []channelStatus             `json:"channels"`
	SyncedAt time.Time                   `json:"syncedAt"`
	// The operator's view (opsstatus.go): the settings sweep, the alerts firing, the
	// quota projection and push health.
	SettingsSweep *settingsSweepStatus `json:"settingsSweep,omitempty"`
	Alerts        []alert.Alert        `json:"alerts"`
	Projection    []quotaProjectionDTO `json:"projection,omitempty"`
	Push          *pushStatus          `json:"push,omitempty"`
	// Errors lists the parts that could not be read; the rest is still answered, since a
	// status page that fails whole when one source is down is no status page.
	Errors []string `json:"errors,omitempty"`
}

type syncStatus struct {
	State          string              `json:"state"`
	LastFullSyncAt *time.Time          `json:"lastFullSyncAt"`
	LastResyncAt   *time.Time          `json:"lastResyncAt,omitempty"`
	StartedAt      *time.Time          `json:"startedAt,omitempty"`
	Groups         int64               `json:"groups"`
	Members        int64               `json:"members"`
	GroupsTotal    int64               `json:"groupsTotal"`
	GroupsDone     int64               `json:"groupsDone"`
	ListingDone    bool                `json:"listingDone"`
	Calls          int64               `json:"calls"`
	Failures       []greep.SyncFailure `json:"failures,omitempty"`
	Discrepancies  []greep.SyncFailure `json:"discrepancies,omitempty"`
}

// channelStatus is a watch channel without its token, which is a secret.
type channelStatus struct {
	ID          string    `json:"id"`
	Application string    `json:"application"`
	ResourceID  string    `json:"resourceId"`
	Address     string    `json:"address"`
	Expiration  time.Time `json:"expiration"`
	CreatedAt   time.Time `json:"createdAt"`
	State       string    `json:"state"`
	// LastNotification is when the channel last delivered a notification to this
	// process (absent if none since it started).
	LastNotification *time.Time `json:"lastNotification,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// collectStatus gathers the status from the store and the status source.
func (s *server) collectStatus(ctx context.Context) statusAnswer {
	out := statusAnswer{Queues: map[string]greep.QueueStat{}, Quota: map[string]greep.QuotaUsage{}, Channels: []channelStatus{}}
	var st greep.SyncState
	if ok, err := s.loadState(ctx, greep.StateSync, &st); err != nil {
		out.Errors = append(out.Errors, err.Error())
	} else if !ok {
		st.State = "never synced"
	}
	out.Sync = syncStatus{State: st.State, LastFullSyncAt: timePtr(st.LastFullSyncAt), LastResyncAt: timePtr(st.LastResyncAt),
		StartedAt: timePtr(st.StartedAt), Groups: st.Groups, Members: st.Members, GroupsTotal: st.GroupsTotal,
		GroupsDone: st.GroupsDone, ListingDone: st.ListingDone, Calls: st.Calls, Failures: st.Failures, Discrepancies: st.Discrepancies}
	out.SyncedAt = st.LastFullSyncAt
	if st.LastResyncAt.After(out.SyncedAt) {
		out.SyncedAt = st.LastResyncAt
	}

	var chans []greep.Channel
	if _, err := s.loadState(ctx, greep.StateChannels, &chans); err != nil {
		out.Errors = append(out.Errors, err.Error())
	}
	now := s.now()
	for _, c := range chans {
		// A channel past its expiration delivers nothing whatever its stored state says.
		state := c.State
		if state == "live" && !now.Before(c.Expiration) {
			state = "expired"
		}
		out.Channels = append(out.Channels, channelStatus{ID: c.ID, Application: c.Application, ResourceID: c.ResourceID,
			Address: c.Address, Expiration: c.Expiration, CreatedAt: c.CreatedAt, State: state})
	}

	if s.status != nil {
		if q, err := s.status.QueueStats(ctx); err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("queue stats: %v", err))
		} else if q != nil {
			out.Queues = q
		}
		if q, err := s.status.QuotaUsage(ctx); err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("quota usage: %v", err))
		} else if q != nil {
			out.Quota = q
		}
	}
	s.collectOps(ctx, &out)
	return out
}

// GET /v1/status
func (s *server) v1Status(w http.ResponseWriter, r *http.Request) {
	st := s.collectStatus(r.Context())
	if len(st.Errors) > 0 {
		s.log.Sugar().Warnw("status incomplete", "errors", st.Errors)
	}
	s.writeJSON(w, r, st, "", st.SyncedAt)
}
