// Package faults holds Greep's fault scenarios as a library: the faults a production
// deployment meets, tried end to end against the Workspace simulator on a time-scaled
// clock, each outcome checked against the simulator's truth rather than Greep's own view.
//
//   - InjectedErrors: 10% of API calls answered 429/500/503 and 5% answered slowly during
//     a full sync and a remediation run;
//   - DroppedPushes: 20% of push notifications lost while the tenant changes, repaired by
//     the next resync;
//   - Kills: the real greep binary (`greep local`) killed with SIGKILL mid-sync and
//     mid-remediation, restarted on the same data directory, its store file reopened and
//     checked after each kill.
//
// Each returns a Report: the figures, and the Problems (every invariant that did not hold).
// An error means the scenario could not run (setup failed, an outcome never came).
// pkg/faulttest runs them at a small size in `go test`; `greep bench --scenario faults`
// (pkg/bench.Faults) runs them at the benchmark's size. docs/faults.md reports both.
package faults
