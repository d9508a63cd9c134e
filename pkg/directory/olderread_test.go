package directory_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/directory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/syncplan"
	"github.com/greephq/greep/pkg/workspacesim"
)

// fresherReadFirst is a store in which, just before the worker's first write of one
// group's members, a fresher read of that group (a push refresh that read later, one
// member fewer) is stored: after the worker checked for a fresher list, before its write.
type fresherReadFirst struct {
	directory.Store
	group   string
	once    sync.Once
	fresher []greep.Member
}

func (s *fresherReadFirst) ReplaceMembers(ctx context.Context, groupID string, ms []greep.Member, etag string, syncedAt time.Time) error {
	if groupID == s.group && len(ms) > 1 {
		var err error
		s.once.Do(func() {
			s.fresher = ms[1:]
			err = s.Store.ReplaceMembers(ctx, groupID, s.fresher, "fresher", syncedAt.Add(time.Second))
		})
		if err != nil {
			return err
		}
	}
	return s.Store.ReplaceMembers(ctx, groupID, ms, etag, syncedAt)
}

// A sweep's read stored after a fresher one leaves the fresher list in place: before the
// store kept the later read itself (cache.OlderRead), the sweep's older list went back in
// until the next resync.
func TestASweepNeverPutsAnOlderReadOverAFresherOne(t *testing.T) {
	ctx := context.Background()
	var st *fresherReadFirst
	e := newEnv(t, workspacesim.Config{Users: 30, Groups: 20, Seed: 5}, syncplan.Resync{Every: time.Hour}, func(c *directory.Config) {
		st = &fresherReadFirst{Store: c.Store}
		c.Store = st
	})
	truth, _ := e.sim.Truth("")
	var target workspacesim.TruthGroup
	for _, g := range truth.Groups {
		if len(g.Members) > 1 {
			target = g
			break
		}
	}
	if target.ID == "" {
		t.Fatal("no group of two members in the tenant")
	}
	st.group = target.ID
	if _, err := e.worker.StartFullSync(ctx); err != nil {
		t.Fatal(err)
	}
	e.q.run()
	if st.fresher == nil {
		t.Fatalf("the worker never wrote %s's members", target.Email)
	}
	g, err := e.store.Group(ctx, target.ID)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.store.Members(ctx, target.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.MembersETag != "fresher" || len(ms) != len(st.fresher) {
		t.Errorf("%s: etag %q and %d members after the sweep; want the fresher read's (%d members)", target.Email, g.MembersETag, len(ms), len(st.fresher))
	}
}

// groupReads counts the group records read through it.
type groupReads struct {
	directory.Store
	n atomic.Int64
}

func (s *groupReads) Group(ctx context.Context, key string) (greep.Group, error) {
	s.n.Add(1)
	return s.Store.Group(ctx, key)
}

// A sweep's member run reads the stored group only when its decision needs it: to judge
// what changed, or to settle provisional changes. Otherwise the store's own check of the
// read's time (cache.OlderRead) is enough, and a full sync reads no group record at all.
func TestASweepReadsTheStoredGroupOnlyToJudge(t *testing.T) {
	for _, judge := range []bool{false, true} {
		var st *groupReads
		e := newEnv(t, workspacesim.Config{Users: 30, Groups: 20, Seed: 5}, syncplan.Resync{Every: time.Hour}, func(c *directory.Config) {
			st = &groupReads{Store: c.Store}
			c.Store, c.Judge = st, judge
		})
		if _, err := e.worker.StartFullSync(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.q.run()
		switch n := st.n.Load(); {
		case !judge && n != 0:
			t.Errorf("without judging, the full sync read %d group records; want none", n)
		case judge && n == 0:
			t.Errorf("judging, the full sync read no group record; the judge needs the stored one")
		}
	}
}
