package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// BenchmarkMemberRun commits what a full sync's one-page members.list tasks commit (the
// members, the sweep's done marker and counters, the task's tombstone and the deletion of
// its record) for every group of a tenant, from one unit a transaction to the 18 a
// Directory sweep's batch gathers: the store's share of a Directory call, and what
// gathering saves. ns/task and pages/task are per task, ns/op and B/op per pass over the
// tenant; the store and each unit's writes are made outside the timer.
//
//	TMPDIR=/dev/shm go test -run '^$' -bench MemberRun -benchtime 5x -count 5 ./pkg/cache/bolt
func BenchmarkMemberRun(b *testing.B) {
	const groups, members = 12000, 8
	for _, per := range []int{1, 2, 4, 18} {
		b.Run(fmt.Sprintf("units=%d", per), func(b *testing.B) {
			b.ReportAllocs()
			var tasks int
			var pages int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, units := memberRunTenant(b, groups, members)
				p0 := s.WriteStats().PageWrites
				b.StartTimer()
				for len(units) > 0 {
					n := min(per, len(units))
					batch := units[:n]
					units = units[n:]
					s.commitBatch(batch)
					for _, c := range batch {
						if c.err != nil {
							b.Fatal(c.err)
						}
					}
				}
				tasks += groups
				b.StopTimer()
				pages += s.WriteStats().PageWrites - p0
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(tasks), "ns/task")
			b.ReportMetric(float64(pages)/float64(tasks), "pages/task")
		})
	}
}

// memberRunTenant opens a store holding groups groups and a queued task for each, and
// returns the units their member runs commit.
func memberRunTenant(b *testing.B, groups, members int) (*Store, []*pendingCommit) {
	s, err := Open(filepath.Join(b.TempDir(), "greep.db"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	gs := make([]greep.Group, groups)
	queued := &greep.Writes{}
	for i := range gs {
		id := fmt.Sprintf("%014x", uint64(i)*0x9e3779b97f4a7c15>>8)
		gs[i] = greep.Group{ID: id, Email: fmt.Sprintf("g%d@example.com", i), DirectMembersCount: int64(members)}
		queued.Puts = append(queued.Puts, greep.Record{Kind: "queue-task", ID: memberTaskID(start, i), Data: []byte(`{"queue":"directory-sweep","url":"/tasks/directory/members","body":"eyJncm91cCI6IjAwMDAwMDAwMDAwMDAwIn0="}`)})
	}
	if err := s.PutGroups(ctx, gs); err != nil {
		b.Fatal(err)
	}
	if err := s.Commit(ctx, queued); err != nil {
		b.Fatal(err)
	}
	units := make([]*pendingCommit, groups)
	synced := start.Add(time.Minute)
	for i, g := range gs {
		ms := make([]greep.Member, members)
		for j := range ms {
			u := (i*7 + j*131) % 5000
			ms[j] = greep.Member{ID: fmt.Sprintf("1%020d", u), Email: fmt.Sprintf("user%d@example.com", u), Role: "MEMBER", Type: "USER", Status: "ACTIVE"}
		}
		ms, err := cache.NormalizeMembers(ms)
		if err != nil {
			b.Fatal(err)
		}
		w := &greep.Writes{
			Members: []greep.MembersWrite{{GroupID: g.ID, Members: ms, ETag: `"etag"`, SyncedAt: synced, Cause: greep.ChangeCause{Cause: "fullSync"}}},
			Marks:   []greep.Mark{{Kind: "directory-done", ID: "1/" + g.ID, Data: []byte("1"), Counter: "directory/sweep/1/done", Delta: 1}},
			Counts:  []greep.Count{{Name: "directory/sweep/1/calls", Delta: 1}},
			Puts:    []greep.Record{{Kind: "queue-tomb", ID: start.Add(time.Hour+time.Duration(i)*time.Millisecond).Format("20060102T150405.000000000Z") + "/directory-sweep/n-" + g.ID + "-members"}},
			Deletes: []greep.RecordKey{{Kind: "queue-task", ID: memberTaskID(start, i)}},
		}
		units[i] = &pendingCommit{w: w, members: [][]greep.Member{ms}}
	}
	return s, units
}

func memberTaskID(start time.Time, i int) string {
	return "directory-sweep/" + start.Add(time.Duration(i)*time.Microsecond).Format("20060102T150405.000000000Z") + fmt.Sprintf("/n-%024x-members", i)
}
