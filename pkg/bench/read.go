package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// readGroupSize is the size of the group whose members the read scenario reads.
const readGroupSize = 200

// readLoad paces the read scenario's load: workers in parallel for a wall duration per
// endpoint. The read API is bounded by the machine, not by a quota, so these are wall
// figures.
var readLoad = struct {
	workers int
	each    time.Duration
}{workers: 8, each: 3 * time.Second}

// errRefused marks a call the quota refused: a failed read, not a failed run.
var errRefused = errors.New("refused by the quota")

// LoadFigures are one endpoint's figures under load.
type LoadFigures struct {
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ReqPerSec float64 `json:"reqPerSec"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// Read fills the cache of a generated tenant (plus one group of 200 members) with a full
// sync, then loads the read API over loopback: the group's members, and the transitive
// groups of the user in the most groups. The naive way reads the same from the
// Directory API (through the official client, against the simulator's quota) on the
// same tenant: members.list of the group and groups.list?userKey= (direct groups only;
// the transitive answer would take one more call per group).
func Read(ctx context.Context, o Options) (*Result, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 20
	}
	e, err := startEnv(ctx, o, workspacesim.Config{Users: o.Users, Groups: o.Groups, Seed: o.Seed, TimeScale: o.TimeScale}, func(c *local.Config) {
		c.NoRemediation = true
		c.NoPush = true
		c.NoInitialSync = true
	})
	if err != nil {
		return nil, err
	}
	defer e.close()

	group, user, err := readTargets(e.sim)
	if err != nil {
		return nil, err
	}
	before := e.sim.Stats()
	if _, err := e.app.Directory.StartFullSync(ctx); err != nil {
		return nil, err
	}
	if err := waitFinished(ctx, e.app); err != nil {
		return nil, err
	}
	res := &Result{Scenario: "read", TimeScale: o.TimeScale}
	e.fillCalls(res, delta(before, e.sim.Stats()))
	if err := e.tenantFigures(ctx, res); err != nil {
		return nil, err
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: readLoad.workers}}
	defer client.CloseIdleConnections()
	membersURL := e.app.URL + "/v1/groups/" + url.PathEscape(group) + "/members?maxResults=" + fmt.Sprint(readGroupSize)
	userURL := e.app.URL + "/v1/users/" + url.PathEscape(user) + "/groups?transitive=true"
	get := func(u string, check func([]byte) error) func(context.Context) error {
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+e.app.APIToken)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", u, resp.Status)
			}
			return check(body)
		}
	}
	members, err := load(ctx, readLoad.workers, readLoad.each, get(membersURL, func(b []byte) error {
		var body struct {
			Members []json.RawMessage `json:"members"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return err
		}
		if len(body.Members) != readGroupSize {
			return fmt.Errorf("%d members, want %d", len(body.Members), readGroupSize)
		}
		return nil
	}))
	if err != nil {
		return nil, err
	}
	var transitive atomic.Int64
	userGroups, err := load(ctx, readLoad.workers, readLoad.each, get(userURL, func(b []byte) error {
		var body struct {
			Groups []json.RawMessage `json:"groups"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return err
		}
		if len(body.Groups) == 0 {
			return errors.New("no groups")
		}
		transitive.Store(int64(len(body.Groups)))
		return nil
	}))
	if err != nil {
		return nil, err
	}
	rc, err := newReadClient(o.ReadClient)
	if err != nil {
		return nil, err
	}
	loadBefore := loadAverage()
	stopProfile, err := startProfile(o.Profile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	vs, err := compareStatic(ctx, rc, e.app.URL, e.app.APIToken, []readEndpoint{
		{"v1Page", "/v1/groups/" + url.PathEscape(group) + "/members?maxResults=" + fmt.Sprint(readGroupSize)},
		{"compatPage", "/admin/directory/v1/groups/" + url.PathEscape(group) + "/members"},
		{"userTransitiveGroups", "/v1/users/" + url.PathEscape(user) + "/groups?transitive=true"},
	}, readLoad.each)
	stopProfile()
	if err != nil {
		return nil, fmt.Errorf("against the static server: %w", err)
	}
	res.Figures = map[string]any{
		"group": group, "user": user, "workers": readLoad.workers,
		"members": members, "userGroupsTransitive": userGroups, "userTransitiveGroups": transitive.Load(),
		"vsStatic": vs, "readClient": rc.name(), "loadAverage": []string{loadBefore, loadAverage()},
	}
	res.WallSeconds = round(time.Since(e.wall).Seconds())

	if o.NaiveTimeScale > 0 {
		if res.Naive, err = naiveRead(ctx, e, o.TimeScale, group, user); err != nil {
			return nil, fmt.Errorf("naive read: %w", err)
		}
	}
	sameTenant(res)
	return res, nil
}

// readTargets adds a group of readGroupSize members to the tenant (users first, outside
// addresses if the tenant has too few) and finds the person in the most groups.
func readTargets(sim *workspacesim.Sim) (group, user string, err error) {
	truth, err := sim.Truth("")
	if err != nil {
		return "", "", err
	}
	in := map[string]int{}
	for _, g := range truth.Groups {
		for _, m := range g.Members {
			// The sentinel marks secure groups and the admin administers: neither is a
			// person whose groups anyone looks up, and the sentinel is in thousands.
			if m.Type == "USER" && m.Email != sim.Sentinel() && m.Email != sim.Admin() {
				in[m.Email]++
			}
		}
	}
	for u, n := range in {
		if user == "" || n > in[user] || n == in[user] && u < user {
			user = u
		}
	}
	if user == "" {
		return "", "", errors.New("no user belongs to a group: the tenant is too small")
	}
	group = "bench-read-200@" + sim.Domain()
	muts := []workspacesim.Mutation{{Op: "createGroup", Group: group}}
	users := slices.Clone(truth.Users)
	sort.Slice(users, func(i, j int) bool { return users[i].PrimaryEmail < users[j].PrimaryEmail })
	for i := 0; i < readGroupSize; i++ {
		m := fmt.Sprintf("reader%03d@outside.example", i)
		if i < len(users) {
			m = users[i].PrimaryEmail
		}
		muts = append(muts, workspacesim.Mutation{Op: "addMember", Group: group, Member: m})
	}
	return group, user, sim.Apply(muts)
}

// load runs call from workers goroutines for d of wall time and reports throughput and
// latency. A failed call is counted; the first failure's error is returned if every call
// failed.
func load(ctx context.Context, workers int, d time.Duration, call func(context.Context) error) (LoadFigures, error) {
	// A call started before the deadline runs to its end and counts: each worker makes
	// at least one, so even a short turn on a saturated machine measures something.
	deadline := time.Now().Add(d)
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int64
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := time.Now()
				err := call(ctx)
				if ctx.Err() != nil {
					break
				}
				if err != nil {
					mu.Lock()
					errs++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lat) == 0 && firstErr != nil && !errors.Is(firstErr, errRefused) {
		return LoadFigures{}, firstErr
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }
	return LoadFigures{
		Requests: int64(len(lat)), Errors: errs,
		ReqPerSec: round(float64(len(lat)) / elapsed.Seconds()),
		P50Ms:     ms(percentile(lat, 0.50)), P99Ms: ms(percentile(lat, 0.99)),
	}, nil
}

// naiveRead reads the same answers straight from the Directory API, as a service
// without a cache would, for as long as the read API was loaded. A refused call
// (quota) is a failed read: a reader cannot wait out a quota window.
func naiveRead(ctx context.Context, e *env, timeScale float64, group, user string) (*Result, error) {
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: e.srv.URL, AdminSubject: e.sim.Admin()})
	if err != nil {
		return nil, err
	}
	dir := clients.Directory
	wall := time.Now()
	before := e.sim.Stats()
	quotaErr := func(err error) error {
		var ge *googleapi.Error
		if errors.As(err, &ge) && (ge.Code == 403 || ge.Code == 429) {
			return fmt.Errorf("%w: %v", errRefused, err)
		}
		return err
	}
	var members, userGroups LoadFigures
	members, err = load(ctx, readLoad.workers, readLoad.each, func(ctx context.Context) error {
		r, err := dir.Members.List(group).MaxResults(readGroupSize).Context(ctx).Do()
		if err != nil {
			return quotaErr(err)
		}
		if len(r.Members) != readGroupSize {
			return fmt.Errorf("%d members, want %d", len(r.Members), readGroupSize)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	mid := e.sim.Stats()
	userGroups, err = load(ctx, readLoad.workers, readLoad.each, func(ctx context.Context) error {
		_, err := dir.Groups.List().UserKey(user).Context(ctx).Do()
		return quotaErr(err)
	})
	if err != nil {
		return nil, err
	}
	after := e.sim.Stats()
	d := delta(before, after)
	// Answered reads per simulated second: what the quota lets through, whatever the
	// machine could do.
	perSim := func(a, b workspacesim.Stats, method string) float64 {
		dd := delta(a, b)
		answered := dd.calls[method] - dd.rateLimit - dd.dailyLimit
		if dd.simDuration <= 0 {
			return 0
		}
		return round(float64(answered) / dd.simDuration.Seconds())
	}
	n := &Result{Scenario: "naive-read", TimeScale: timeScale}
	n.Calls = d.calls
	n.QuotaErrors = d.rateLimit + d.dailyLimit
	n.SimulatedSeconds = round(d.simDuration.Seconds())
	n.WallSeconds = round(time.Since(wall).Seconds())
	n.Figures = map[string]any{
		"members": members, "userGroupsDirect": userGroups,
		"membersAnsweredPerSimulatedSecond":    perSim(before, mid, "directory.members.list"),
		"userGroupsAnsweredPerSimulatedSecond": perSim(mid, after, "directory.groups.list"),
	}
	return n, nil
}
