package wiring

import "github.com/greephq/greep/pkg/settingsworker"

// NewGroupsSettings builds the groupssettings service: the only caller of the Groups
// Settings API.
func NewGroupsSettings(rt *Runtime) (*Service, error) {
	g, err := rt.google("groupssettings")
	if err != nil {
		return nil, err
	}
	w := settingsworker.New(settingsworker.Config{
		Store: rt.Store, Settings: g.Settings, Queue: rt.Queue,
		Now:                   rt.Now,
		Quota:                 rt.Quota,
		TrustAppEngineHeaders: rt.TrustTaskHeaders,
		Logger:                rt.Log.Named("groupssettings"),
	})
	return &Service{Name: "groupssettings", Routes: []string{"/tasks/groupssettings/"}, Handler: w.Handler()}, nil
}
