package api

import (
	"context"
	"fmt"
	"time"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/remediation"
)

// OpsSource is the optional part of a StatusSource that knows what operators are told:
// the alerts firing, the quota projection and when each channel last delivered
// (greep local's status source has it).
type OpsSource interface {
	Alerts() []alert.Alert
	Projections(ctx context.Context) ([]alert.APIProjection, error)
	LastNotifications() map[string]time.Time
}

// PushCounter is the optional part of a StatusSource that counts refused notifications.
type PushCounter interface {
	RefusedNotifications() map[string]int64
}

type settingsSweepStatus struct {
	State     string     `json:"state"` // running, draining (every read queued), idle
	StartedAt *time.Time `json:"startedAt,omitempty"`
	Finished  *time.Time `json:"finishedAt,omitempty"`
	Enqueued  int        `json:"enqueued"`
	Groups    int64      `json:"groups"`
	Backlog   int64      `json:"backlog"`
}

type quotaProjectionDTO struct {
	API        string    `json:"api"`
	Used       int64     `json:"used"`
	Limit      int64     `json:"limit"`
	Projected  int64     `json:"projected"`
	Push       int64     `json:"push"`
	Background int64     `json:"background"`
	ResetAt    time.Time `json:"resetAt"`
}

type pushStatus struct {
	Refused map[string]int64 `json:"refused"`
}

// settingsSweepLane is the lane the settings sweep's reads wait in.
const settingsSweepLane = "groupssettings-sweep"

// collectOps adds the operator's view to the status.
func (s *server) collectOps(ctx context.Context, out *statusAnswer) {
	var sw remediation.SweepState
	if ok, err := s.loadState(ctx, remediation.StateSweep, &sw); err != nil {
		out.Errors = append(out.Errors, err.Error())
	} else if ok {
		ss := &settingsSweepStatus{State: "idle", StartedAt: timePtr(sw.StartedAt), Finished: timePtr(sw.FinishedAt),
			Enqueued: sw.Enqueued, Groups: out.Sync.Groups, Backlog: out.Queues[settingsSweepLane].Backlog}
		switch {
		case !sw.Done:
			ss.State = "running"
		case ss.Backlog > 0:
			ss.State = "draining"
		}
		out.SettingsSweep = ss
	}
	out.Alerts = []alert.Alert{}
	ops, ok := s.status.(OpsSource)
	if !ok {
		return
	}
	out.Alerts = append(out.Alerts, ops.Alerts()...)
	if ps, err := ops.Projections(ctx); err != nil {
		out.Errors = append(out.Errors, fmt.Sprintf("quota projection: %v", err))
	} else {
		for _, p := range ps {
			out.Projection = append(out.Projection, quotaProjectionDTO{API: p.API, Used: p.Used, Limit: p.Limit,
				Projected: p.Projected, Push: p.Push, Background: p.Background, ResetAt: p.ResetAt})
		}
	}
	last := ops.LastNotifications()
	for i := range out.Channels {
		if t, ok := last[out.Channels[i].ID]; ok {
			out.Channels[i].LastNotification = &t
		}
	}
	if pc, ok := s.status.(PushCounter); ok {
		out.Push = &pushStatus{Refused: pc.RefusedNotifications()}
	}
}

// refusedSum adds up refused notifications.
func refusedSum(p *pushStatus) int64 {
	if p == nil {
		return 0
	}
	var n int64
	for _, v := range p.Refused {
		n += v
	}
	return n
}
