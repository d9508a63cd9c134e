package local_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

type v1SettingsAnswer struct {
	Settings    map[string]string `json:"settings"`
	ReadAt      *time.Time        `json:"readAt"`
	Provisional map[string]struct {
		Value      string `json:"value"`
		ActivityID string `json:"activityId"`
	} `json:"provisional"`
}

// TestPushedSettingIsVisibleBeforeTheRead: through greep local's own wiring, a setting
// changed at the simulator shows in /v1/groups/{g}/settings as provisional, with its
// activity id, while the settings read still waits out its debounce (no settings call
// made); once the debounce fires, the read confirms it and the provisional entry goes.
func TestPushedSettingIsVisibleBeforeTheRead(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t, 60)
	cfg := config(sim, t.TempDir())
	cfg.NoPush = false
	cfg.Debounce = time.Hour
	app, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	waitSynced(t, app)
	waitChannels(t, sim.Sim)

	truth, _ := sim.Sim.Truth("")
	g := truth.Groups[0]
	value := "INVITED_CAN_JOIN"
	if g.Settings["whoCanJoin"] == value {
		value = "CAN_REQUEST_TO_JOIN"
	}
	path := "/v1/groups/" + g.Email + "/settings"
	reads := sim.Sim.Stats().Calls["groupssettings.groups.get"]
	if err := sim.Sim.Apply([]workspacesim.Mutation{{Op: "setSettings", Group: g.Email, Settings: map[string]string{"whoCanJoin": value}}}); err != nil {
		t.Fatal(err)
	}

	var seen v1SettingsAnswer
	wait.Until(t, time.Minute, func() error {
		seen = v1SettingsAnswer{}
		getJSON(t, app, path, &seen)
		if seen.Settings["whoCanJoin"] != value {
			return fmt.Errorf("whoCanJoin %q in /v1, want %q", seen.Settings["whoCanJoin"], value)
		}
		return nil
	})
	if p := seen.Provisional["whoCanJoin"]; p.Value != value || p.ActivityID == "" {
		t.Fatalf("the pushed setting before the read: %+v, want it provisional with its activity id", seen)
	}
	if n := sim.Sim.Stats().Calls["groupssettings.groups.get"]; n != reads {
		t.Fatalf("%d settings reads ran before the setting showed: the debounce fired first", n-reads)
	}

	// The debounce fires (the clock jumps past it) and Google's read confirms.
	sim.Sim.Advance(time.Hour)
	wait.Until(t, 2*time.Minute, func() error {
		var a v1SettingsAnswer
		getJSON(t, app, path, &a)
		if len(a.Provisional) != 0 || a.ReadAt == nil || a.Settings["whoCanJoin"] != value {
			return fmt.Errorf("not confirmed yet: %+v", a)
		}
		return nil
	})
}
