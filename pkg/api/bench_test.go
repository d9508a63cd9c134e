package api_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/graph"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/workspacesim"
)

// The origin tenant: 5,000 users, 45,000 groups, about 373,000 memberships.
const (
	originUsers  = 5000
	originGroups = 45000
)

type origin struct {
	url       string
	coldURL   string // the same API with the answer caches off (AnswerTTL < 0)
	group     string // a group of about 200 members
	groupSize int
	user      string // a typical user: direct memberships nearest the mean
	userPaths int
	heavy     string // the user in the most groups
	heavyN    int
	store     *bolt.Store
}

var (
	originOnce sync.Once
	originEnv  *origin
	originErr  error
)

// loadOrigin fills an embedded store with the origin-size simulator tenant (once per
// process; the file is kept in /dev/shm or the temp dir and reused by later runs) and
// serves the read API over it on a loopback port.
func loadOrigin(b *testing.B) *origin {
	originOnce.Do(func() { originEnv, originErr = buildOrigin() })
	if originErr != nil {
		b.Fatal(originErr)
	}
	return originEnv
}

func buildOrigin() (*origin, error) {
	sim, err := workspacesim.New(workspacesim.Config{Users: originUsers, Groups: originGroups, Seed: 1})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	truth, err := sim.Truth("")
	if err != nil {
		return nil, err
	}
	dir := "/dev/shm"
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("greep-api-bench-%d-%d.db", originUsers, originGroups))
	store, err := bolt.Open(path)
	if err != nil {
		return nil, err
	}
	// A file from an earlier run is reused only if its fill completed.
	const complete = "bench-fill-complete"
	if _, err := store.State(context.Background(), complete); err != nil {
		if err := fillStore(store, truth, sim.Now()); err != nil {
			store.Close()
			os.Remove(path)
			return nil, err
		}
		if err := store.UpdateState(context.Background(), complete, func([]byte) ([]byte, error) { return []byte("{}"), nil }); err != nil {
			return nil, err
		}
	}

	o := &origin{store: store}
	memberships := map[string]int{}
	for _, g := range truth.Groups {
		if d := abs(len(g.Members) - 200); o.group == "" || d < abs(o.groupSize-200) {
			o.group, o.groupSize = g.Email, len(g.Members)
		}
		for _, m := range g.Members {
			if m.Type == greep.TypeUser {
				memberships[m.Email]++
			}
		}
	}
	total := 0
	for _, n := range memberships {
		total += n
	}
	mean := total / max(len(memberships), 1)
	for u, n := range memberships {
		if o.user == "" || abs(n-mean) < abs(o.userPaths-mean) || (abs(n-mean) == abs(o.userPaths-mean) && u < o.user) {
			o.user, o.userPaths = u, n
		}
		if n > o.heavyN || (n == o.heavyN && u < o.heavy) {
			o.heavy, o.heavyN = u, n
		}
	}

	a, err := auth.NewStaticToken(apiToken)
	if err != nil {
		return nil, err
	}
	serve := func(ttl time.Duration) (string, error) {
		h, err := api.New(api.Config{Store: store, Auth: a, AnswerTTL: ttl})
		if err != nil {
			return "", err
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		go http.Serve(l, h)
		return "http://" + l.Addr().String(), nil
	}
	if o.url, err = serve(0); err != nil {
		return nil, err
	}
	if o.coldURL, err = serve(-1); err != nil {
		return nil, err
	}
	return o, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// load sends n GETs of path from workers keep-alive connections on loopback and returns
// the throughput and the latency quantiles.
func load(b *testing.B, url string, n, workers int) (rps float64, p50, p99 time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+apiToken)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(fmt.Errorf("%s: %s", url, resp.Status))
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	return float64(n) / el.Seconds(), lat[n/2], lat[n*99/100]
}

func benchmarkPath(b *testing.B, base, path string) {
	url := base + path
	load(b, url, min(2000, max(b.N, 1)), 8) // warm the snapshot cache and the connections
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	rps, p50, p99 := load(b, url, max(b.N, 1), 8)
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	// CPU per request of the whole process: server and load generator together, so the
	// capacity of two cores for the server alone is higher than 2s / this.
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(b.N, 1)), "cpu-µs/req")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}

// BenchmarkOriginGroupMembers: one ~200-member group's members (one page), /v1 and the
// Directory-compatible path, from the embedded store at the origin tenant's size.
func BenchmarkOriginGroupMembers(b *testing.B) {
	o := loadOrigin(b)
	b.Logf("group %s has %d members", o.group, o.groupSize)
	// With the default AnswerTTL the group's metadata is read from the store at most once
	// a second; "cold" reads it on every request.
	b.Run("v1", func(b *testing.B) { benchmarkPath(b, o.url, "/v1/groups/"+o.group+"/members") })
	b.Run("directory", func(b *testing.B) { benchmarkPath(b, o.url, "/admin/directory/v1/groups/"+o.group+"/members") })
	b.Run("v1-cold", func(b *testing.B) { benchmarkPath(b, o.coldURL, "/v1/groups/"+o.group+"/members") })
}

// BenchmarkOriginUserGroups: a typical user's transitive groups, served from the answer
// kept by version (the steady state of a job polling its users) and computed from the
// store on every request (caches off); and the same for the user in the most groups.
func BenchmarkOriginUserGroups(b *testing.B) {
	o := loadOrigin(b)
	for _, u := range []struct{ name, email string }{{"typical", o.user}, {"heaviest", o.heavy}} {
		ids, err := graph.Ancestors(context.Background(), u.email, o.store.MemberOf)
		if err != nil {
			b.Fatal(err)
		}
		direct, _ := o.store.MemberOf(context.Background(), u.email)
		b.Logf("%s user %s: %d direct groups, %d transitive", u.name, u.email, len(direct), len(ids))
		path := "/v1/users/" + u.email + "/groups?transitive=true"
		b.Run(u.name+"/memo", func(b *testing.B) { benchmarkPath(b, o.url, path) })
		b.Run(u.name+"/cold", func(b *testing.B) { benchmarkPath(b, o.coldURL, path) })
	}
}

// BenchmarkLoopbackFloor is /healthz (no store, no auth) through the same load generator:
// what the HTTP stack and the generator cost on this machine, to read the figures above
// against.
func BenchmarkLoopbackFloor(b *testing.B) {
	o := loadOrigin(b)
	benchmarkPath(b, o.url, "/healthz")
}
