// Package bench runs Greep's benchmark scenarios against the Workspace simulator and
// reports their figures (calls per method, quota errors, achieved rate against the allowed
// rate, simulated and wall duration, whether the cache equals the truth) in the JSON shape
// `greep bench --json` prints: FullSync, Read, DuringSync, Push, SettingsSweep and Day,
// each measured against the naive way on the same tenant, and Faults, the fault scenarios
// of pkg/faults at the benchmark's size (there is no naive way to compare them with).
package bench
