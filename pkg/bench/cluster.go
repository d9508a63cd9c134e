package bench

import (
	"context"
	"time"

	"github.com/greephq/greep/pkg/faults"
)

// ClusterFullSync is the full-sync scenario against greep cluster (Options.ClusterRoot:
// the app): each service its own process, Datastore and Cloud Tasks emulated, the
// simulator on the wall clock. The full sync must end with the cache equal to the truth;
// a pushed change is then timed through the front. The cluster's figures (sync and push
// seconds, each queue's dispatches and retries, what /v1/status lists) go under Figures
// ("cluster").
func ClusterFullSync(ctx context.Context, o Options) (*Result, error) {
	wall := time.Now()
	r, err := faults.ClusterSync(ctx, clusterConfig(o))
	res := &Result{Scenario: "full-sync", Users: o.Users, Groups: o.Groups}
	serr := summarize(res, []faultRun{{name: "cluster", report: r, err: err}})
	if r != nil {
		res.SimulatedSeconds = r.Cluster.SyncSeconds
	}
	res.TimeScale = 1
	res.WallSeconds = round(time.Since(wall).Seconds())
	return res, serr
}

// ClusterFaults is the faults scenario against greep cluster: faults.ClusterKills, every
// task delivered twice (the directory service killed mid-sync, the Datastore emulator
// restarted after the sync, the groupssettings and remediation services killed
// mid-remediation). Its
// report goes under Figures ("clusterKills").
func ClusterFaults(ctx context.Context, o Options) (*Result, error) {
	wall := time.Now()
	c := clusterConfig(o)
	c.DeliverTwice = true
	r, err := faults.ClusterKills(ctx, c)
	res := &Result{Scenario: "faults", Users: o.Users, Groups: o.Groups}
	serr := summarize(res, []faultRun{{name: "clusterKills", report: r, err: err}})
	res.TimeScale = 1
	res.WallSeconds = round(time.Since(wall).Seconds())
	return res, serr
}

func clusterConfig(o Options) faults.ClusterConfig {
	return faults.ClusterConfig{
		Config: faults.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, QueuesFile: o.QueuesFile, TempDir: scratch()},
		Root:   o.ClusterRoot,
	}
}
