package local

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/wiring"
)

// alertEvery is how often the alerts are judged, on the process's clock (production's
// cron judges them every minute too).
const alertEvery = time.Minute

// startOps builds the alerts, posting to the rules' notify URL (the findings' webhook)
// when one is set, and starts the loop that judges them through the call production's
// cron path makes.
func (a *App) startOps(rt *wiring.Runtime) error {
	url, err := a.notifyURL()
	if err != nil {
		return err
	}
	alerts := wiring.NewAlerts(rt, wiring.AlertsConfig{
		PushSilence: a.cfg.PushSilence, ResyncEvery: a.cfg.ResyncEvery, MaxAge: a.cfg.MaxAge,
		PushExpected: !a.cfg.NoPush && a.cfg.Workspace != "google", SettingsSweep: !a.cfg.NoRemediation,
		ProcessFigures: true, NotifyURL: url, Started: a.Now(),
	})
	rt.Ops = alerts
	a.loop(func(ctx context.Context) {
		defer alerts.Close()
		for {
			jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := alerts.Judge(jctx); err != nil && ctx.Err() == nil {
				a.log.Warn("judging the alerts", zap.Error(err))
			}
			cancel()
			select {
			case <-ctx.Done():
				return
			case <-a.clock.After(alertEvery):
			}
		}
	})
	return nil
}

// notifyURL is the rules' notify URL ("" without remediation or without one).
func (a *App) notifyURL() (string, error) {
	if a.cfg.NoRemediation {
		return "", nil
	}
	rc, err := loadRules(a.cfg.Rules)
	if err != nil {
		return "", nil // mountServices reports it
	}
	return rc.NotifyURL, nil
}
