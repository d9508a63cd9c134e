package wiring

import (
	"errors"

	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/rules"
)

// sliceSize is how many groups one settings-sweep task evaluates.
const sliceSize = 200

// RulesConfig is the remediation rules in force: the remediation service decides
// patches by them, the groupssettings service re-checks each patch by them.
type RulesConfig struct {
	Rules *rules.Config // the loaded rules file
	Mode  string        // detect or remediate, overriding the rules file's; "" keeps it
}

// Remediation is the remediation service and its sweeps, which greep local starts on its
// own clock where App Engine cron calls the cron path.
type Remediation struct {
	Service
	Sweeps *remediation.Service
}

// NewRemediation builds the remediation service.
func NewRemediation(rt *Runtime, c RulesConfig) (*Remediation, error) {
	if c.Rules == nil {
		return nil, errors.New("remediation: no rules")
	}
	svc := remediation.New(remediation.Config{
		Rules: c.Rules, Store: rt.Store, Queue: rt.Queue, Mode: c.Mode,
		Now:                   rt.Now,
		Days:                  rt.Quota,
		SliceSize:             sliceSize,
		SliceEvery:            remediation.SliceEvery(rt.Queues, sliceSize),
		Quota:                 rt.Quota,
		Queues:                rt.Queues,
		TrustAppEngineHeaders: rt.TrustTaskHeaders,
		Logger:                rt.Log.Named("remediation"),
	})
	return &Remediation{
		Service: Service{Name: "remediation", Routes: []string{"/tasks/remediation/", "/cron/remediation/"}, Handler: rt.recordingFigures("remediation", svc.Handler())},
		Sweeps:  svc,
	}, nil
}
