package wiring

import (
	"time"

	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/push"
)

// PushConfig is the push service's own configuration.
type PushConfig struct {
	Debounce time.Duration // events on one group within it make one refresh
}

// DefaultPush is the push service's defaults.
func DefaultPush() PushConfig { return PushConfig{Debounce: push.DefaultDebounce} }

// NewPush builds the push service: the webhook the Reports API's channels deliver to.
func NewPush(rt *Runtime, c PushConfig) *Service {
	log := rt.Log.Named("push")
	h := push.New(rt.Store, rt.Queue, push.Config{Debounce: c.Debounce, Now: rt.Now, Log: log, Observer: rt.Metrics,
		Provisional: &provisional.Applier{Store: rt.Store, Now: rt.Now, Log: log}})
	return &Service{Name: "push", Routes: []string{"/push/"}, Handler: h}
}
