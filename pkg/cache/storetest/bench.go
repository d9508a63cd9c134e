package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/graph"
	"github.com/greephq/greep/pkg/greep"
)

// Tenant is a synthetic Workspace tenant: groups and their direct members.
type Tenant struct {
	Users   int
	Groups  []greep.Group
	Members map[string][]greep.Member // by group id
	// Memberships is the number of (group, member) pairs.
	Memberships int
	// HotGroup is a group of 200 members, the size the read API's throughput target
	// is stated for; HotUser a user in many groups, some nested.
	HotGroup, HotUser string
}

// Origin sizes: the tenant that motivated Greep.
const (
	OriginGroups      = 45000
	OriginMemberships = 373000
	OriginUsers       = 5000
)

// NewTenant generates a tenant of the given size with the shape of a real one: most
// groups small, a long tail of large ones (the largest holds every user, up to
// 20,000), about 2% of memberships nested groups. The same arguments give the same tenant.
func NewTenant(groups, memberships, users int, seed uint64) *Tenant {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	tn := &Tenant{Users: users, Members: make(map[string][]greep.Member, groups)}
	gid := func(i int) string { return fmt.Sprintf("0%08d", i) }
	for i := range groups {
		tn.Groups = append(tn.Groups, greep.Group{ID: gid(i), Email: fmt.Sprintf("group%05d@example.com", i),
			Name: fmt.Sprintf("Group %d", i), ETag: fmt.Sprint("e", i), SyncedAt: time.Unix(1_700_000_000, 0).UTC()})
	}
	// Sizes from a Pareto-like tail, scaled to the membership total.
	sizes := make([]float64, groups)
	total := 0.0
	for i := range sizes {
		sizes[i] = 1 / (r.Float64()*0.999 + 0.001) // 1 .. 1000, heavy-tailed
		total += sizes[i]
	}
	fixed := 0
	if groups > 2 {
		fixed = 200 + min(20000, memberships/20, users) // the hot group and one huge group
	}
	// Scale so the sizes, capped at the number of users, add up to the target.
	scale := float64(memberships-fixed) / total
	for range 20 {
		sum := 0
		for _, f := range sizes[min(2, groups):] {
			sum += min(users, max(1, int(f*scale)))
		}
		if sum <= 0 {
			break
		}
		scale *= float64(memberships-fixed) / float64(sum)
	}
	for i, g := range tn.Groups {
		n := max(1, int(sizes[i]*scale))
		switch {
		case i == 0 && groups > 2:
			n = 200
		case i == 1 && groups > 2:
			n = min(20000, memberships/20)
		}
		seen := map[int]bool{}
		ms := make([]greep.Member, 0, n)
		for len(ms) < n && len(seen) < users {
			if r.IntN(50) == 0 && groups > 1 { // a nested group
				j := r.IntN(groups)
				if j == i || seen[-1-j] || len(ms) >= n-1 {
					continue
				}
				seen[-1-j] = true
				ms = append(ms, greep.Member{ID: gid(j), Email: tn.Groups[j].Email, Role: "MEMBER", Type: greep.TypeGroup, Status: "ACTIVE"})
				continue
			}
			u := r.IntN(users)
			if seen[u] {
				continue
			}
			seen[u] = true
			ms = append(ms, greep.Member{ID: fmt.Sprintf("1%08d", u), Email: fmt.Sprintf("user%05d@example.com", u), Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"})
		}
		tn.Members[g.ID] = ms
		tn.Groups[i].DirectMembersCount = int64(len(ms))
		tn.Memberships += len(ms)
	}
	if groups > 0 {
		tn.HotGroup = tn.Groups[0].ID
		tn.HotUser = tn.Members[tn.HotGroup][0].Email
	}
	return tn
}

// Load writes the tenant into s with the given number of concurrent writers, as the
// directory worker would: group metadata in pages, then each group's members.
func (tn *Tenant) Load(ctx context.Context, s greep.Store, writers int) error {
	for lo := 0; lo < len(tn.Groups); lo += 500 {
		if err := s.PutGroups(ctx, tn.Groups[lo:min(lo+500, len(tn.Groups))]); err != nil {
			return err
		}
	}
	work := make(chan greep.Group)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for g := range work {
				if err := s.ReplaceMembers(ctx, g.ID, tn.Members[g.ID], g.ETag, g.SyncedAt); err != nil {
					errs <- fmt.Errorf("group %s: %w", g.ID, err)
					return
				}
			}
		})
	}
	var err error
loop:
	for _, g := range tn.Groups {
		select {
		case work <- g:
		case err = <-errs:
			break loop
		}
	}
	close(work)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}

// BenchOptions size the benchmarks. newStore gets the top-level *testing.B: the store
// it makes must stay open until that benchmark ends.
type BenchOptions struct {
	// Groups, Memberships and Users default to the origin tenant's.
	Groups, Memberships, Users int
	// Writers is the number of concurrent ReplaceMembers calls while loading.
	Writers int
}

// Bench runs the store benchmarks: Load (time and memory to load the tenant into a
// new store), Members (one 200-member group's members, in parallel on every core),
// TransitiveMembers, DirectGroups (one reverse lookup) and TransitiveGroups (one user's
// groups, through nesting). The
// read benchmarks use the store the last Load filled (or load one first).
func Bench(b *testing.B, newStore func(b *testing.B) greep.Store, o BenchOptions) {
	if o.Groups == 0 {
		o.Groups, o.Memberships, o.Users = OriginGroups, OriginMemberships, OriginUsers
		// GREEP_BENCH_SCALE=0.1 runs at a tenth of the origin size, for a quick look.
		if f, err := strconv.ParseFloat(os.Getenv("GREEP_BENCH_SCALE"), 64); err == nil && f > 0 {
			o.Groups, o.Memberships = max(3, int(float64(o.Groups)*f)), max(300, int(float64(o.Memberships)*f))
		}
	}
	if o.Writers == 0 {
		o.Writers = 4
	}
	ctx := context.Background()
	tn := NewTenant(o.Groups, o.Memberships, o.Users, 1)
	var loaded greep.Store
	outer := b // the store outlives the Load sub-benchmark: the reads use it
	load := func(b *testing.B) {
		s := newStore(outer)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		if err := tn.Load(ctx, s, o.Writers); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(elapsed.Seconds(), "load-s")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MB")
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "heap-MB")
		b.ReportMetric(float64(tn.Memberships)/elapsed.Seconds(), "memberships/s")
		b.Logf("loaded %d groups, %d memberships in %v", len(tn.Groups), tn.Memberships, elapsed.Round(time.Millisecond))
		loaded = s
	}
	b.Run("Load", func(b *testing.B) {
		for range b.N {
			load(b)
		}
	})
	store := func(b *testing.B) greep.Store {
		if loaded == nil {
			load(b)
			b.ResetTimer()
		}
		return loaded
	}
	b.Run("Members200", func(b *testing.B) {
		s := store(b)
		b.ReportAllocs()
		b.ResetTimer()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ms, err := s.Members(ctx, tn.HotGroup)
				if err != nil || len(ms) != 200 {
					b.Errorf("Members: %d, %v", len(ms), err)
					return
				}
			}
		})
	})
	// timed runs op b.N times on the loaded store, with its CPU time, and reports the
	// size of its last answer in unit.
	timed := func(name, unit string, op func(s greep.Store) (int, error)) {
		b.Run(name, func(b *testing.B) {
			s := store(b)
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			var n int
			for range b.N {
				var err error
				if n, err = op(s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), unit)
		})
	}
	timed("TransitiveMembers200", "members", func(s greep.Store) (int, error) {
		ms, err := graph.Members(ctx, tn.HotGroup, s.Members)
		return len(ms), err
	})
	// DirectGroups is one reverse lookup: the unit TransitiveGroups repeats once per group
	// it reaches (a store that answers it by scanning shows here first).
	timed("DirectGroups", "groups", func(s greep.Store) (int, error) {
		gs, err := s.MemberOf(ctx, tn.HotUser)
		return len(gs), err
	})
	timed("TransitiveGroups", "groups", func(s greep.Store) (int, error) {
		gs, err := graph.Ancestors(ctx, tn.HotUser, s.MemberOf)
		return len(gs), err
	})
}

// reportCPU starts measuring the process's CPU time (user and system, every thread);
// the function it returns reports it per operation as cpu-ns/op. On a shared machine
// this is steadier than ns/op, which counts time waiting for a core; it includes the
// garbage collector's work.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
