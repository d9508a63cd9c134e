package wiring

import (
	"time"

	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/push"
)

// PushConfig is the push service's own configuration.
type PushConfig struct {
	Debounce time.Duration // events on one group within it make one refresh
	// NoJudge stops queueing the judging of provisional member changes (tasks.Judge)
	// where no remediation service runs to take it (greep local without remediation).
	NoJudge bool
}

// DefaultPush is the push service's defaults.
func DefaultPush() PushConfig { return PushConfig{Debounce: push.DefaultDebounce} }

// NewPush builds the push service: the webhook the Reports API's channels deliver to.
func NewPush(rt *Runtime, c PushConfig) *Service {
	log := rt.Log.Named("push")
	applier := &provisional.Applier{Store: rt.Store, Now: rt.Now, Log: log}
	if !c.NoJudge {
		applier.Changed = judgeProvisional(rt.Queue, log)
	}
	h := push.New(rt.Store, rt.Queue, push.Config{Debounce: c.Debounce, Now: rt.Now, Log: log, Observer: rt.Metrics,
		Provisional: applier})
	return &Service{Name: "push", Routes: []string{"/push/"}, Handler: rt.recordingFigures("push", h)}
}
