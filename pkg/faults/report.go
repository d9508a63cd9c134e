package faults

// Report is one scenario's figures and the invariants it found broken, in the shape
// `greep bench --json` prints under its figures.
type Report struct {
	Scenario string `json:"scenario"`
	Users    int    `json:"users"`
	Groups   int    `json:"groups"`
	Members  int    `json:"members"`
	// Calls counts every API request the simulator answered, injected failures included,
	// by method.
	Calls      map[string]int64 `json:"calls"`
	TotalCalls int64            `json:"totalCalls"`
	// InjectedFaults counts the calls the simulator answered with an injected error;
	// QuotaErrors those it refused for Google's quota (none expected).
	InjectedFaults int64 `json:"injectedFaults"`
	QuotaErrors    int64 `json:"quotaErrors"`
	// CacheEqualsTruth: at the end, every group and member the cache holds equals the
	// simulator's truth; Differences lists the first that do not.
	CacheEqualsTruth bool     `json:"cacheEqualsTruth"`
	Differences      []string `json:"differences,omitempty"`
	TimeScale        float64  `json:"timeScale"`
	WallSeconds      float64  `json:"wallSeconds"`

	Remediation *Remediation `json:"remediation,omitempty"`
	Pushes      *Pushes      `json:"pushes,omitempty"`
	Kills       *KillRun     `json:"kills,omitempty"`
	Cluster     *ClusterRun  `json:"cluster,omitempty"`

	// Problems are the invariants that did not hold; none means the scenario passed.
	Problems []string `json:"problems"`
	// KeptIn says where the data directory and greep local's log were kept when there
	// were problems, and Log holds the end of that log (Kills only).
	KeptIn string `json:"keptIn,omitempty"`
	Log    string `json:"-"`
}

// Remediation is what a remediation run did to the groups the rules would patch.
type Remediation struct {
	// Unsafe counts the groups whose true settings the rules would patch at the start;
	// Patched those whose settings a write changed (each exactly once, or a Problem).
	Unsafe  int `json:"unsafe"`
	Patched int `json:"patched"`
	// PatchCalls counts the PATCH requests, answered or refused.
	PatchCalls int64 `json:"patchCalls"`
	// ResentAfterKill counts patches answered 2xx again after the earlier answer went to a
	// process that was then killed (at-least-once delivery; they changed nothing).
	ResentAfterKill int `json:"resentAfterKill"`
	// ResentWithinRun counts patches answered 2xx twice within one run: each is a Problem.
	ResentWithinRun int `json:"resentWithinRun"`
	// Fixed counts the groups with a settings finding in state fixed.
	Fixed int `json:"fixed"`
}

// Pushes is what lost notifications cost and what the resync repaired.
type Pushes struct {
	Changes   int   `json:"changes"`
	Delivered int64 `json:"delivered"`
	Dropped   int64 `json:"dropped"`
	// StaleBeforeResync counts the groups that differed from the truth once every
	// notification was delivered or dropped: never more than Dropped.
	StaleBeforeResync int `json:"staleBeforeResync"`
	// ResyncCalls are the resync's Directory calls by method.
	ResyncCalls map[string]int64 `json:"resyncCalls"`
}

// KillRun is where each SIGKILL landed and what the restarts recovered.
type KillRun struct {
	Seed           uint64 `json:"seed"`
	Kills          []Kill `json:"kills"`
	MidSync        int    `json:"midSync"`
	MidRemediation int    `json:"midRemediation"`
	// ConvergedSeconds is the wall time from the first start to the convergence of the
	// run after the last kill.
	ConvergedSeconds float64 `json:"convergedSeconds"`
}

// Kill is one SIGKILL of greep local.
type Kill struct {
	// DelayMillis is how long after its trigger (the process answering, or for the
	// remediation kills the settings sweep's first read) the process was killed.
	DelayMillis int64  `json:"delayMillis"`
	Phase       string `json:"phase"`
	// GroupsServed counts the groups the read API served just before the kill.
	GroupsServed int `json:"groupsServed"`
	// StoreProblems are what the reopened store file lacked (none: it reopened cleanly
	// with every group served before the kill).
	StoreProblems []string `json:"storeProblems,omitempty"`
}
