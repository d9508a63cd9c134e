// Package faulttest holds Greep's fault tests: the faults a production deployment meets,
// tried end to end against the Workspace simulator on a time-scaled clock, each checking
// the outcome against the simulator's truth rather than against Greep's own view.
//
//   - injected 429/500/503 and slow answers during a full sync and a remediation run;
//   - push notifications dropped while the tenant changes, repaired by the next resync;
//   - the real greep binary (`greep local`) killed with SIGKILL mid-sync and
//     mid-remediation, restarted on the same data directory;
//   - the store file of a killed process reopened and checked.
//
// The package has no code of its own beyond its tests; docs/faults.md reports what each
// test proved and what it measured.
package faulttest
