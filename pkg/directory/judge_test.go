package directory_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspacesim"
)

// judged returns the groups of the judging tasks queued since the last call, sorted.
func (e *env) judged(t *testing.T) []string {
	t.Helper()
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	var out []string
	for _, task := range e.q.evaluations {
		if task.Path != tasks.PathRemediationJudge {
			continue
		}
		var j tasks.Judge
		if err := json.Unmarshal(task.Body, &j); err != nil {
			t.Fatal(err)
		}
		if j.Provisional || j.Version == "" {
			t.Errorf("judge task %+v from a read of Google", j)
		}
		out = append(out, j.Group)
	}
	e.q.evaluations = nil
	slices.Sort(out)
	return out
}

// The rules are judged on every member write that can change what they see, and only on
// those: the first full sync (the baseline) judges nothing, a resync judges the groups
// whose members changed (an emptied one included) but not the unchanged ones its rolling
// slice re-reads, and a refresh (what a notification asked for) always judges.
func TestMemberWritesQueueTheJudgingOfChangedGroupsOnly(t *testing.T) {
	ctx := context.Background()
	resync := syncplan.Resync{Every: time.Hour, MaxAge: 2 * time.Hour} // a large slice
	e := newEnv(t, workspacesim.Config{Users: 60, Groups: 40, Seed: 5}, resync, func(c *directory.Config) { c.Judge = true })
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if j := e.judged(t); len(j) != 0 {
		t.Fatalf("the first full sync judged %v", j)
	}

	truth, err := e.sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	var grown, emptied, untouched workspacesim.TruthGroup
	for _, g := range truth.Groups {
		switch {
		case g.DirectMembersCount == 0:
		case grown.ID == "":
			grown = g
		case untouched.ID == "":
			untouched = g
		case emptied.ID == "" || g.DirectMembersCount < emptied.DirectMembersCount:
			emptied = g
		}
	}
	if emptied.ID == "" {
		t.Fatal("the tenant has too few groups with members")
	}
	muts := []workspacesim.Mutation{{Op: "addMember", Group: grown.Email, Member: "late@outside.test", Role: "OWNER"}}
	for _, m := range emptied.Members {
		muts = append(muts, workspacesim.Mutation{Op: "removeMember", Group: emptied.Email, Member: m.Email})
	}
	if err := e.sim.Apply(muts); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(resync.Every)
	before := e.sim.Stats().Calls["directory.members.list"]
	if _, err := e.worker.StartResync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if reads := e.sim.Stats().Calls["directory.members.list"] - before; reads < 3 {
		t.Fatalf("the resync read %d member lists: its slice should re-read unchanged groups too", reads)
	}
	want := []string{emptied.Email, grown.Email}
	slices.Sort(want)
	if j := e.judged(t); !slices.Equal(j, want) {
		t.Errorf("the resync judged %v, want the changed groups %v", j, want)
	}

	enqueueRefresh(t, e, tasks.Refresh{Group: untouched.Email, Reason: "test"})
	e.q.run()
	if j := e.judged(t); !slices.Equal(j, []string{untouched.Email}) {
		t.Errorf("a refresh judged %v, want %s", j, untouched.Email)
	}
	e.assertTruth(t)
}
