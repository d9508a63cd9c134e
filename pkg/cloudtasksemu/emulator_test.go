package cloudtasksemu_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cloudtasksemu"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
)

const parent = "projects/greep-test/locations/us-central1"

// received is one request a service got from the emulator.
type received struct {
	at     time.Time
	path   string
	method string
	header http.Header
	body   string
}

// service is an App Engine service stand-in that records its requests and answers with
// what answer says.
type service struct {
	mu     sync.Mutex
	got    []received
	answer func(n int) int // the status of the n-th request (0-based)
	srv    *httptest.Server
}

func newService(t *testing.T, answer func(n int) int) *service {
	s := &service{answer: answer}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.got)
		s.got = append(s.got, received{at: time.Now(), path: r.URL.RequestURI(), method: r.Method, header: r.Header.Clone(), body: string(b)})
		s.mu.Unlock()
		w.WriteHeader(s.answer(n))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received{}, s.got...)
}

func ok(int) int { return http.StatusOK }

// start runs an emulator routing every service to svc and returns the real client of it.
func start(t *testing.T, cfg cloudtasksemu.Config, svc *service) (*cloudtasksemu.Emulator, *ctapi.Client) {
	t.Helper()
	cfg.Target = func(name string) (string, bool) { return svc.srv.URL, name == "worker" }
	cfg.Logf = t.Logf
	e := cloudtasksemu.New(cfg)
	addr, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	c, err := cloudtasks.NewClient(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return e, c
}

func createQueue(t *testing.T, c *ctapi.Client, id string, rate float64, concurrency, maxAttempts int32, minBackoff time.Duration) string {
	t.Helper()
	q, err := c.CreateQueue(context.Background(), &cloudtaskspb.CreateQueueRequest{Parent: parent, Queue: &cloudtaskspb.Queue{
		Name:                     parent + "/queues/" + id,
		AppEngineRoutingOverride: &cloudtaskspb.AppEngineRouting{Service: "worker"},
		RateLimits:               &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: rate, MaxConcurrentDispatches: concurrency},
		RetryConfig: &cloudtaskspb.RetryConfig{
			MaxAttempts: maxAttempts, MinBackoff: durationpb.New(minBackoff),
			MaxBackoff: durationpb.New(10 * minBackoff), MaxDoublings: 2,
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return q.Name
}

func newTask(queue, id, path string, at time.Time) *cloudtaskspb.CreateTaskRequest {
	t := &cloudtaskspb.Task{MessageType: &cloudtaskspb.Task_AppEngineHttpRequest{AppEngineHttpRequest: &cloudtaskspb.AppEngineHttpRequest{
		HttpMethod: cloudtaskspb.HttpMethod_POST, RelativeUri: path,
		Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{"id":"` + id + `"}`),
	}}}
	if id != "" {
		t.Name = queue + "/tasks/" + id
	}
	if !at.IsZero() {
		t.ScheduleTime = timestamppb.New(at)
	}
	return &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: t}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 30*time.Second, what, cond)
}

func TestDispatchesAtScheduleTimeWithAppEngineHeaders(t *testing.T) {
	svc := newService(t, ok)
	_, c := start(t, cloudtasksemu.Config{}, svc)
	q := createQueue(t, c, "directory", 10, 5, 5, 100*time.Millisecond)
	eta := time.Now().Add(300 * time.Millisecond)
	if _, err := c.CreateTask(context.Background(), newTask(q, "refresh-g1", "/tasks/directory/refresh?x=1", eta)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task delivered", func() bool { return len(svc.requests()) == 1 })
	r := svc.requests()[0]
	if r.at.Before(eta) {
		t.Errorf("delivered at %v, before its schedule time %v", r.at, eta)
	}
	if r.method != http.MethodPost || r.path != "/tasks/directory/refresh?x=1" || r.body != `{"id":"refresh-g1"}` {
		t.Errorf("got %s %s %q", r.method, r.path, r.body)
	}
	want := map[string]string{
		"X-AppEngine-QueueName":          "directory",
		"X-AppEngine-TaskName":           "refresh-g1",
		"X-AppEngine-TaskRetryCount":     "0",
		"X-AppEngine-TaskExecutionCount": "0",
		"Content-Type":                   "application/json",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	etaHeader, err := strconv.ParseFloat(r.header.Get("X-AppEngine-TaskETA"), 64)
	if err != nil || etaHeader < float64(eta.Unix()) || etaHeader > float64(eta.Unix()+1) {
		t.Errorf("X-AppEngine-TaskETA = %q, want about %d", r.header.Get("X-AppEngine-TaskETA"), eta.Unix())
	}
}

func TestNamedTaskIsRefusedWhileQueuedAndAfterItRan(t *testing.T) {
	svc := newService(t, ok)
	_, c := start(t, cloudtasksemu.Config{}, svc)
	q := createQueue(t, c, "directory", 10, 5, 5, 100*time.Millisecond)
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	if _, err := c.CreateTask(ctx, newTask(q, "a", "/x", later)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTask(ctx, newTask(q, "a", "/x", time.Time{})); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("the same name while queued: %v, want AlreadyExists", err)
	}
	if _, err := c.CreateTask(ctx, newTask(q, "b", "/x", time.Time{})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b delivered", func() bool { return len(svc.requests()) == 1 })
	if _, err := c.CreateTask(ctx, newTask(q, "b", "/x", time.Time{})); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("the name of a task that ran: %v, want AlreadyExists", err)
	}
	// Unnamed tasks are never de-duplicated.
	for range 2 {
		if _, err := c.CreateTask(ctx, newTask(q, "", "/x", time.Time{})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the unnamed tasks delivered", func() bool { return len(svc.requests()) == 3 })
}

func TestRateIsATokenBucket(t *testing.T) {
	svc := newService(t, ok)
	e, c := start(t, cloudtasksemu.Config{}, svc)
	const rate, n = 20.0, 40 // burst: 4
	q := createQueue(t, c, "sweep", rate, 100, 5, 100*time.Millisecond)
	got, err := c.GetQueue(context.Background(), &cloudtaskspb.GetQueueRequest{Name: q})
	if err != nil {
		t.Fatal(err)
	}
	burst := int(got.RateLimits.MaxBurstSize)
	if burst != 4 {
		t.Fatalf("max_burst_size %d, want 4 for %g/s", burst, rate)
	}
	for i := range n {
		if _, err := c.CreateTask(context.Background(), newTask(q, "t"+strconv.Itoa(i), "/x", time.Time{})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every task delivered", func() bool { return e.Stats()["sweep"].Succeeded == n })
	rs := svc.requests()
	// However slow the machine, the bucket never lets them through faster: after the
	// first burst, one token every 1/rate.
	span := rs[n-1].at.Sub(rs[0].at)
	if min := time.Duration(float64(n-burst-1) / rate * float64(time.Second)); span < min {
		t.Errorf("%d tasks in %v, want at least %v at %g/s with a burst of %d", n, span, min, rate, burst)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	var (
		mu      sync.Mutex
		now, hi int
		release = make(chan struct{})
	)
	svc := newService(t, ok)
	svc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now++
		hi = max(hi, now)
		mu.Unlock()
		<-release
		mu.Lock()
		now--
		mu.Unlock()
	})
	e, c := start(t, cloudtasksemu.Config{}, svc)
	q := createQueue(t, c, "q", 500, 2, 5, 100*time.Millisecond)
	for i := range 6 {
		if _, err := c.CreateTask(context.Background(), newTask(q, "t"+strconv.Itoa(i), "/x", time.Time{})); err != nil {
			t.Fatal(err)
		}
	}
	// The emulator counts a task in flight before its request reaches the handler: wait
	// for the handler to hold both, or the high-water mark is read too early.
	waitFor(t, "two in flight", func() bool {
		mu.Lock()
		defer mu.Unlock()
		s := e.Stats()["q"]
		return now == 2 && s.InFlight == 2 && s.Queued == 4
	})
	close(release)
	waitFor(t, "every task done", func() bool { return e.Stats()["q"].Succeeded == 6 })
	mu.Lock()
	defer mu.Unlock()
	if hi != 2 {
		t.Errorf("at most %d requests at once, want 2", hi)
	}
}

func TestRetriesWithBackoffAndGivesUpAfterMaxAttempts(t *testing.T) {
	// The first two attempts fail, the third succeeds.
	svc := newService(t, func(n int) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e, c := start(t, cloudtasksemu.Config{}, svc)
	const minBackoff = 200 * time.Millisecond
	q := createQueue(t, c, "retry", 100, 10, 3, minBackoff)
	if _, err := c.CreateTask(context.Background(), newTask(q, "r", "/x", time.Time{})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task done", func() bool { return e.Stats()["retry"].Succeeded == 1 })
	rs := svc.requests()
	if len(rs) != 3 {
		t.Fatalf("%d attempts, want 3", len(rs))
	}
	for i, r := range rs {
		if got := r.header.Get("X-AppEngine-TaskRetryCount"); got != strconv.Itoa(i) {
			t.Errorf("attempt %d: X-AppEngine-TaskRetryCount %q", i, got)
		}
		if got := r.header.Get("X-AppEngine-TaskExecutionCount"); got != strconv.Itoa(i) {
			t.Errorf("attempt %d: X-AppEngine-TaskExecutionCount %q", i, got)
		}
	}
	if got := rs[1].header.Get("X-AppEngine-TaskPreviousResponse"); got != "500" {
		t.Errorf("X-AppEngine-TaskPreviousResponse %q, want 500", got)
	}
	if gap := rs[1].at.Sub(rs[0].at); gap < minBackoff {
		t.Errorf("first retry after %v, want at least %v", gap, minBackoff)
	}
	if gap := rs[2].at.Sub(rs[1].at); gap < 2*minBackoff {
		t.Errorf("second retry after %v, want at least %v (doubled)", gap, 2*minBackoff)
	}

	// A task that always fails is given up after max_attempts.
	fail := newService(t, func(int) int { return http.StatusBadRequest })
	e2, c2 := start(t, cloudtasksemu.Config{}, fail)
	q2 := createQueue(t, c2, "fail", 100, 10, 3, 10*time.Millisecond)
	if _, err := c2.CreateTask(context.Background(), newTask(q2, "f", "/x", time.Time{})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task dropped", func() bool { return e2.Stats()["fail"].Dropped == 1 })
	if s := e2.Stats()["fail"]; s.Attempts != 3 || s.Retries != 2 || s.Backlog() != 0 {
		t.Errorf("stats %+v, want 3 attempts, 2 retries, nothing left", s)
	}
}

func TestUnreachableServiceIsRetried(t *testing.T) {
	svc := newService(t, ok)
	up := make(chan struct{})
	var once sync.Once
	e := cloudtasksemu.New(cloudtasksemu.Config{
		Logf: t.Logf,
		Target: func(string) (string, bool) {
			select {
			case <-up:
				return svc.srv.URL, true
			default:
				once.Do(func() { close(up) }) // the instance is "started" by the first miss
				return "", false
			}
		},
	})
	addr, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	c, err := cloudtasks.NewClient(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := createQueue(t, c, "q", 100, 10, 5, 10*time.Millisecond)
	if _, err := c.CreateTask(context.Background(), newTask(q, "u", "/x", time.Time{})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered after the miss", func() bool { return len(svc.requests()) == 1 })
	r := svc.requests()[0]
	// The miss counts as a retry but not as an execution: no handler answered it.
	if r.header.Get("X-AppEngine-TaskRetryCount") != "1" || r.header.Get("X-AppEngine-TaskExecutionCount") != "0" {
		t.Errorf("retry count %q, execution count %q; want 1 and 0", r.header.Get("X-AppEngine-TaskRetryCount"), r.header.Get("X-AppEngine-TaskExecutionCount"))
	}
}

func TestDeliverTwice(t *testing.T) {
	svc := newService(t, ok)
	e, c := start(t, cloudtasksemu.Config{DeliverTwice: true}, svc)
	q := createQueue(t, c, "q", 100, 10, 5, 10*time.Millisecond)
	if _, err := c.CreateTask(context.Background(), newTask(q, "d", "/x", time.Time{})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered twice", func() bool { return len(svc.requests()) == 2 })
	rs := svc.requests()
	if rs[0].header.Get("X-AppEngine-TaskName") != "d" || rs[1].header.Get("X-AppEngine-TaskName") != "d" {
		t.Errorf("task names %q and %q", rs[0].header.Get("X-AppEngine-TaskName"), rs[1].header.Get("X-AppEngine-TaskName"))
	}
	waitFor(t, "counted", func() bool { s := e.Stats()["q"]; return s.Duplicates == 1 && s.Succeeded == 1 })
}

func TestRefusesWhatCloudTasksRefuses(t *testing.T) {
	svc := newService(t, ok)
	_, c := start(t, cloudtasksemu.Config{}, svc)
	q := createQueue(t, c, "q", 10, 10, 5, 10*time.Millisecond)
	ctx := context.Background()
	bad := map[string]*cloudtaskspb.CreateTaskRequest{
		"no queue":        newTask(parent+"/queues/missing", "a", "/x", time.Time{}),
		"relative uri":    newTask(q, "a", "x", time.Time{}),
		"name elsewhere":  {Parent: q, Task: &cloudtaskspb.Task{Name: parent + "/queues/other/tasks/a", MessageType: newTask(q, "", "/x", time.Time{}).Task.MessageType}},
		"name characters": newTask(q, "a.b", "/x", time.Time{}),
		"too far ahead":   newTask(q, "a", "/x", time.Now().Add(31*24*time.Hour)),
		"http target":     {Parent: q, Task: &cloudtaskspb.Task{MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{Url: "http://x/"}}}},
	}
	forged := newTask(q, "a", "/x", time.Time{})
	forged.Task.GetAppEngineHttpRequest().Headers["X-AppEngine-QueueName"] = "other"
	bad["app engine header"] = forged
	for name, r := range bad {
		_, err := c.CreateTask(ctx, r)
		if code := status.Code(err); code != codes.InvalidArgument && code != codes.NotFound {
			t.Errorf("%s: %v, want InvalidArgument or NotFound", name, err)
		}
	}
	if _, err := c.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: parent, Queue: &cloudtaskspb.Queue{Name: parent + "/queues/q", RateLimits: &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 501}}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a rate over 500/s: %v, want InvalidArgument", err)
	}
}

func TestBackoff(t *testing.T) {
	rc := &cloudtaskspb.RetryConfig{MinBackoff: durationpb.New(10 * time.Second), MaxBackoff: durationpb.New(300 * time.Second), MaxDoublings: 3}
	want := []time.Duration{10, 20, 40, 80, 160, 240, 300, 300}
	for i, w := range want {
		if got := cloudtasksemu.Backoff(rc, i+1); got != w*time.Second {
			t.Errorf("retry %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
}

// TestQueueStatsForStatus: the api service's production reader of queue stats (v2beta3
// GetQueue) sees the emulator's backlog, oldest arrival and the last minute's attempts.
func TestQueueStatsForStatus(t *testing.T) {
	svc := newService(t, ok)
	e := cloudtasksemu.New(cloudtasksemu.Config{
		Target: func(name string) (string, bool) { return svc.srv.URL, name == "worker" },
		Logf:   t.Logf,
	})
	addr, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	c, err := cloudtasks.NewClient(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cfg, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lane := cfg.LaneNames()[0]
	q := createQueue(t, c, lane, 500, 2, 5, 100*time.Millisecond)
	for i := range 3 {
		if _, err := c.CreateTask(context.Background(), newTask(q, "now"+strconv.Itoa(i), "/x", time.Time{})); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Hour).Truncate(time.Second)
	for i := range 2 {
		if _, err := c.CreateTask(context.Background(), newTask(q, "later"+strconv.Itoa(i), "/x", later.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	qs, err := cloudtasks.NewQueueStats(context.Background(), addr, cloudtasks.Location{Project: "greep-test", Location: "us-central1"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()
	var got greep.QueueStat
	waitFor(t, "three attempts and two tasks waiting", func() bool {
		all, err := qs.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = all[lane]
		return got.ExecutedLastMinute == 3 && got.Backlog == 2
	})
	if !got.Oldest.Equal(later) || got.RatePerSecond != 500 {
		t.Errorf("stats %+v: want the oldest arrival %v and the queue's rate 500", got, later)
	}
}
