package wiring_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/push"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// clock is the test's one clock, shared by the processes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// webhook is a fake Slack-compatible receiver keeping what it is sent.
type webhook struct {
	mu   sync.Mutex
	msgs []string
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Text string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, body.Text)
	h.mu.Unlock()
}

func (h *webhook) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// processes are production's service processes over one store, each with its own
// runtime (its own metrics), on one clock.
type processes struct {
	t     *testing.T
	clock *clock
	store greep.Store
	qc    *queueconfig.Config
}

func newProcesses(t *testing.T) *processes {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	qc, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &processes{t: t, clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, store: store, qc: qc}
}

func (p *processes) runtime() *wiring.Runtime {
	rt := wiring.New(p.store, nil, p.qc, p.clock.Now, nil)
	rt.TrustTaskHeaders = true // App Engine strips the task and cron headers from outside requests
	return rt
}

// serve sends one request to h and checks its status.
func (p *processes) serve(h http.Handler, req *http.Request, want int) {
	p.t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		p.t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, rec.Code, rec.Body, want)
	}
}

func cronRequest(path string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Appengine-Cron", "true")
	return req
}

func notification(ch greep.Channel, n int) *http.Request {
	req := httptest.NewRequest(http.MethodPost, push.Path, nil)
	req.Header.Set(push.HeaderChannelID, ch.ID)
	req.Header.Set(push.HeaderChannelToken, ch.Token)
	req.Header.Set(push.HeaderResourceID, ch.ResourceID)
	req.Header.Set(push.HeaderResourceState, push.ResourceStateSync)
	req.Header.Set(push.HeaderMessageNumber, string(rune('0'+n)))
	return req
}

// TestPushSilenceJudgedAcrossServiceProcesses (issue 17): in production the push service
// hears the notifications, the directory service's resync finds the changes, and the
// default service judges the alerts on /cron/alerts; none sees the others' memory. Each
// records its figures in the store, so the default service raises push-silent once when
// push went quiet an hour while the resync found changes, and ends it once a
// notification arrives. (Before, the default service marked push-silent unknown.)
func TestPushSilenceJudgedAcrossServiceProcesses(t *testing.T) {
	ctx := context.Background()
	p := newProcesses(t)
	hook := &webhook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()

	ch := greep.Channel{ID: "ch1", Application: "groups", ResourceID: "r1", Token: "secret", State: "live",
		Expiration: p.clock.Now().Add(30 * 24 * time.Hour)}
	if _, err := greep.UpdateStateJSON(ctx, p.store, greep.StateChannels, func(cs *[]greep.Channel) error {
		*cs = []greep.Channel{ch}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	pushSvc := wiring.NewPush(p.runtime(), wiring.DefaultPush())

	sim, err := workspacesim.Start(workspacesim.Config{Users: 5, Groups: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dirRT := p.runtime()
	if err := dirRT.ConnectGoogle(ctx, workspace.Config{Endpoint: sim.URL, AdminSubject: sim.Sim.Admin()}); err != nil {
		t.Fatal(err)
	}
	dir, err := wiring.NewDirectory(dirRT, wiring.DefaultDirectory())
	if err != nil {
		t.Fatal(err)
	}

	apiRT := p.runtime()
	authn, err := auth.NewStaticToken("tok")
	if err != nil {
		t.Fatal(err)
	}
	alerts := wiring.NewAlerts(apiRT, wiring.AlertsConfig{PushExpected: true, NotifyURL: srv.URL})
	defer alerts.Close()
	apiRT.Ops = alerts
	api, err := wiring.NewAPI(ctx, apiRT, authn)
	if err != nil {
		t.Fatal(err)
	}
	judge := func() { p.serve(api.Handler, cronRequest(wiring.PathCronAlerts), http.StatusNoContent) }

	p.serve(pushSvc.Handler, notification(ch, 1), http.StatusOK)
	judge()
	p.clock.Add(2 * time.Hour)
	// The resync found changes: the directory worker tells its metrics, and the
	// service's next request records them (here the publish cron, a no-op without a
	// topic).
	dirRT.Metrics.ObserveResyncChanges(3)
	p.serve(dir.Handler, cronRequest(wiring.PublishPath), http.StatusNoContent)
	for range 3 {
		judge()
	}
	ms := hook.messages()
	if len(ms) != 1 || !strings.Contains(ms[0], "no push notification for 2h") {
		t.Fatalf("push quiet 2h while the resync found changes, judged 3 times: messages %q, want one push-silent", ms)
	}

	p.clock.Add(time.Minute)
	p.serve(pushSvc.Handler, notification(ch, 2), http.StatusOK)
	judge()
	judge()
	if ms := hook.messages(); len(ms) != 2 || !strings.Contains(ms[1], "resolved") || !strings.Contains(ms[1], "no push notification") {
		t.Errorf("after a notification: messages %q, want the occurrence and one recovery", ms)
	}
}

// failingWrites is a store whose state updates fail while down is set.
type failingWrites struct {
	greep.Store
	mu   sync.Mutex
	down bool
}

func (s *failingWrites) setDown(d bool) {
	s.mu.Lock()
	s.down = d
	s.mu.Unlock()
}

func (s *failingWrites) UpdateState(ctx context.Context, name string, fn func([]byte) ([]byte, error)) error {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return greep.Errorf(greep.EINTERNAL, "no space left on device")
	}
	return s.Store.UpdateState(ctx, name, fn)
}

// TestStoreFailureRecordedOnceTheStoreTakesWrites (issue 17): a push process whose
// store writes fail cannot record that at once; it records it once the store takes writes
// again (at most one write a minute), and the default service then raises store-writes,
// late, with the failure's own time in its text.
func TestStoreFailureRecordedOnceTheStoreTakesWrites(t *testing.T) {
	ctx := context.Background()
	p := newProcesses(t)
	fs := &failingWrites{Store: p.store}
	pushRT := wiring.New(fs, nil, p.qc, p.clock.Now, nil)
	pushSvc := wiring.NewPush(pushRT, wiring.DefaultPush())
	alerts := wiring.NewAlerts(p.runtime(), wiring.AlertsConfig{})
	defer alerts.Close()
	stored := func() map[string]json.RawMessage {
		t.Helper()
		var d struct{ Services map[string]json.RawMessage }
		if _, err := greep.LoadState(ctx, p.store, wiring.StateFigures, &d); err != nil {
			t.Fatal(err)
		}
		return d.Services
	}

	fs.setDown(true)
	// A notification on an unknown channel is refused: the request's end still records.
	unknown := greep.Channel{ID: "gone", Token: "x", ResourceID: "r"}
	pushRT.Metrics.ObserveStoreError("UpdateState", errors.New("no space left on device"))
	failedAt := p.clock.Now()
	p.serve(pushSvc.Handler, notification(unknown, 1), http.StatusNotFound)
	if s := stored(); len(s) != 0 {
		t.Fatalf("figures stored while the store takes no writes: %s", s)
	}

	fs.setDown(false)
	p.clock.Add(10 * time.Minute)
	p.serve(pushSvc.Handler, notification(unknown, 2), http.StatusNotFound)
	if got := string(stored()["push"]); !strings.Contains(got, "no space left on device") {
		t.Fatalf("figures after the store came back: %s, want the failure", got)
	}
	if err := alerts.Judge(ctx); err != nil {
		t.Fatal(err)
	}
	firing := alerts.Alerts()
	if len(firing) != 1 || firing[0].Kind != "store-writes" || !strings.Contains(firing[0].Text, failedAt.Format(time.RFC3339)) {
		t.Fatalf("alerts firing %+v, want store-writes with the failure's time %s", firing, failedAt.Format(time.RFC3339))
	}

}

// TestFiguresWrittenAtMostOnceAMinute (issue 17): a process writes its figures after a
// request at most once a minute of its clock: a notification heard 30 s after a write
// waits, and the first request a minute after the write (even one that moves nothing)
// records it.
func TestFiguresWrittenAtMostOnceAMinute(t *testing.T) {
	ctx := context.Background()
	p := newProcesses(t)
	ch := greep.Channel{ID: "ch1", Application: "groups", ResourceID: "r1", Token: "secret", State: "live",
		Expiration: p.clock.Now().Add(30 * 24 * time.Hour)}
	if _, err := greep.UpdateStateJSON(ctx, p.store, greep.StateChannels, func(cs *[]greep.Channel) error {
		*cs = []greep.Channel{ch}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pushSvc := wiring.NewPush(p.runtime(), wiring.DefaultPush())
	last := func() time.Time {
		t.Helper()
		var d struct {
			Services map[string]struct{ LastNotification time.Time }
		}
		if _, err := greep.LoadState(ctx, p.store, wiring.StateFigures, &d); err != nil {
			t.Fatal(err)
		}
		return d.Services["push"].LastNotification
	}

	start := p.clock.Now()
	p.serve(pushSvc.Handler, notification(ch, 1), http.StatusOK)
	p.clock.Add(30 * time.Second)
	p.serve(pushSvc.Handler, notification(ch, 2), http.StatusOK)
	if got := last(); !got.Equal(start) {
		t.Fatalf("stored last notification %v, want the first one's %v (the second came within the minute)", got, start)
	}
	p.clock.Add(31 * time.Second)
	p.serve(pushSvc.Handler, notification(greep.Channel{ID: "gone", Token: "x", ResourceID: "r"}, 3), http.StatusNotFound)
	if got, want := last(), start.Add(30*time.Second); !got.Equal(want) {
		t.Errorf("stored last notification %v a minute on, want the second one's %v", got, want)
	}
}
