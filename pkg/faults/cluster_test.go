package faults

import (
	"testing"

	"github.com/greephq/greep/pkg/queueconfig"
)

func TestClusterQueuesSlowsTheDirectoryAndCapsConcurrency(t *testing.T) {
	path, err := clusterQueues("../../queues.yaml", t.TempDir(), 600, 4)
	if err != nil {
		t.Fatal(err)
	}
	q, err := queueconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range q.LaneNames() {
		l, _ := q.Lane(name)
		if l.Concurrency > 4 {
			t.Errorf("%s: concurrency %d, want at most 4", name, l.Concurrency)
		}
	}
	sweep, _ := q.Lane("directory-sweep")
	if r := sweep.RatePerSecond(); r < 5.8 || r > 5.9 {
		t.Errorf("directory-sweep at %g/s, want 600/min x 0.9 x 0.65 = 5.85/s", r)
	}
}
