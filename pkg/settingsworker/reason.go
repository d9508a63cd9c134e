package settingsworker

import "strings"

// sweepPrefix marks the Reason of a settings read that belongs to a sweep run. The run id
// travels in the reason because tasks.SettingsGet has no field for it; the read passes it
// on to the evaluation, where the per-run cap counts patches by run.
const sweepPrefix = "sweep:"

// SweepReason is the SettingsGet.Reason of a read made by the sweep run runID.
func SweepReason(runID string) string { return sweepPrefix + runID }

// RunOf returns the sweep run a SettingsGet.Reason names, or "" for a push-driven read.
func RunOf(reason string) string {
	if run, ok := strings.CutPrefix(reason, sweepPrefix); ok {
		return run
	}
	return ""
}
