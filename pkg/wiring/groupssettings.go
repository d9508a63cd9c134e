package wiring

import (
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/settingsworker"
)

// NewGroupsSettings builds the groupssettings service: the only caller of the Groups
// Settings API. Every patch is re-checked, just before it is sent, against the rules, the
// mode and the exemptions of c and the group's stored settings (remediation.PatchCheck):
// without rules no patch is sent.
func NewGroupsSettings(rt *Runtime, c RulesConfig) (*Service, error) {
	g, err := rt.google("groupssettings")
	if err != nil {
		return nil, err
	}
	w := settingsworker.New(settingsworker.Config{
		Store: rt.Store, Settings: g.Settings, Queue: rt.Queue,
		Policy:                remediation.PatchCheck{Rules: c.Rules, Mode: c.Mode, Store: rt.Store, Now: rt.Now},
		Now:                   rt.Now,
		Quota:                 rt.Quota,
		TrustAppEngineHeaders: rt.TrustTaskHeaders,
		Logger:                rt.Log.Named("groupssettings"),
	})
	return &Service{Name: "groupssettings", Routes: []string{"/tasks/groupssettings/"}, Handler: rt.recordingFigures("groupssettings", w.Handler())}, nil
}
