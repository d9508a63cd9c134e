package wiring

import (
	"context"
	"time"

	"github.com/greephq/greep/pkg/alert"
)

// Ops is what operators are told beyond the runtime's figures: the alerts firing and the
// quota projection that knows the guard's budgets (*Alerts: greep local judges them on a
// timer, production's default service on its cron path).
type Ops interface {
	Judge(ctx context.Context) error
	Alerts() []alert.Alert
	Projections(ctx context.Context) ([]alert.APIProjection, error)
}

// Alerts is api.OpsSource's: the alerts firing, none without Ops.
func (s status) Alerts() []alert.Alert {
	if s.rt.Ops == nil {
		return nil
	}
	return s.rt.Ops.Alerts()
}

// Projections is api.OpsSource's: the quota projection, none without Ops (the dashboard
// then draws its straight line).
func (s status) Projections(ctx context.Context) ([]alert.APIProjection, error) {
	if s.rt.Ops == nil {
		return nil, nil
	}
	return s.rt.Ops.Projections(ctx)
}

// LastNotifications is api.OpsSource's: when each channel last delivered to this process.
func (s status) LastNotifications() map[string]time.Time { return s.rt.Metrics.LastNotifications() }

// RefusedNotifications is api.PushCounter's.
func (s status) RefusedNotifications() map[string]int64 { return s.rt.Metrics.RefusedNotifications() }
