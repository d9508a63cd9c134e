package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
	"github.com/greephq/greep/pkg/notify"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// receiver is a Slack-compatible webhook that counts what it is sent.
type receiver struct {
	mu   sync.Mutex
	msgs []string
	srv  *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct{ Text string }
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, body.Text)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// waitMessages waits until the receiver holds n messages; a later check that no more
// arrived is made only after a message sent later arrived (the sender is in order).
func (r *receiver) waitMessages(t *testing.T, n int) []string {
	t.Helper()
	var ms []string
	wait.Until(t, 30*time.Second, func() error {
		if ms = r.messages(); len(ms) < n {
			return fmt.Errorf("%d messages received, want %d: %q", len(ms), n, ms)
		}
		return nil
	})
	return ms
}

// fixture is a manager posting to a receiver through the real Sender and notify.Poster.
type fixture struct {
	rec *receiver
	mgr *alert.Manager
	in  alert.Inputs
}

func newFixture(t *testing.T) *fixture {
	rec := newReceiver(t)
	s := alert.NewSender(&notify.Poster{URL: rec.srv.URL}, alert.SenderConfig{Backoff: time.Millisecond})
	t.Cleanup(s.Close)
	return &fixture{rec: rec, mgr: alert.NewManager(alert.Config{}, memory.New(), s),
		in: alert.Inputs{Now: t0, Started: t0.Add(-24 * time.Hour), PushExpected: true}}
}

func (f *fixture) update(t *testing.T) {
	t.Helper()
	if err := f.mgr.Update(context.Background(), f.in); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) firing(t *testing.T) []alert.Alert {
	t.Helper()
	firing, err := f.mgr.Firing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return firing
}

// occurrence checks the lifecycle of one alert: raise makes it fire (one message, however
// often it is judged), recover ends it (one message), and the marker message sent after
// proves nothing else was sent in between.
func (f *fixture) occurrence(t *testing.T, kind string, raise, recover func(in *alert.Inputs)) {
	t.Helper()
	base := len(f.rec.messages())
	raise(&f.in)
	for range 3 {
		f.update(t)
		f.in.Now = f.in.Now.Add(time.Second)
	}
	firing := f.firing(t)
	if len(firing) != 1 || firing[0].Kind != kind {
		t.Fatalf("firing %+v, want one %s", firing, kind)
	}
	recover(&f.in)
	f.update(t)
	if n := len(f.firing(t)); n != 0 {
		t.Fatalf("still firing after recovery: %+v", f.firing(t))
	}
	ms := f.rec.waitMessages(t, base+2)[base:]
	if len(ms) != 2 || !strings.Contains(ms[0], "Greep alert: ") || !strings.Contains(ms[1], "resolved") {
		t.Errorf("%s: messages %q, want one on occurrence and one on recovery", kind, ms)
	}
	t.Logf("%s: %q", kind, ms[0])
}

func TestLaneProjectedOverItsBudget(t *testing.T) {
	f := newFixture(t)
	lane := alert.Lane{Name: "groupssettings-sweep", API: "groupssettings", Background: true, Work: 45000, Cap: 60000, Used: 45000, ResetAt: t0.Add(8 * time.Hour)}
	f.occurrence(t, alert.KindLaneBudget,
		func(in *alert.Inputs) { lane.Projected = 90000; in.Lanes = []alert.Lane{lane} },
		func(in *alert.Inputs) { lane.Projected = 59000; in.Lanes = []alert.Lane{lane} })
}

func TestSweepPastTwiceItsExpectedLength(t *testing.T) {
	f := newFixture(t)
	sweep := alert.Sweep{Name: "settings sweep", Running: true, StartedAt: t0.Add(-time.Hour), Expected: 20 * time.Minute}
	f.occurrence(t, alert.KindSweepOverdue,
		func(in *alert.Inputs) { in.Sweeps = []alert.Sweep{sweep} },
		func(in *alert.Inputs) { sweep.Running = false; in.Sweeps = []alert.Sweep{sweep} })
}

func TestChannelExpiringWithoutARenewal(t *testing.T) {
	f := newFixture(t)
	old := greep.Channel{ID: "admin-1", Application: "admin", State: "live", Expiration: t0.Add(5 * time.Minute)}
	f.occurrence(t, alert.KindChannelUnrenewed,
		func(in *alert.Inputs) { in.Channels = []greep.Channel{old} },
		func(in *alert.Inputs) {
			in.Channels = append(in.Channels, greep.Channel{ID: "admin-2", Application: "admin", State: "live", Expiration: in.Now.Add(6 * time.Hour)})
		})
}

// Push silent: the resync finds changes (reported by the directory worker to the
// metrics) while no notification arrives for longer than PushSilence.
func TestPushSilentWhileTheResyncFindsChanges(t *testing.T) {
	f := newFixture(t)
	now := t0
	m := metrics.New(func() time.Time { return now })
	m.ObserveNotification("admin-1", "accepted", "")
	from := func(in *alert.Inputs) {
		in.Now = now
		in.LastNotification = m.LastNotifications()["admin-1"]
		in.LastResyncChange = m.LastResyncChange()
	}
	f.occurrence(t, alert.KindPushSilent,
		func(in *alert.Inputs) {
			now = now.Add(2 * time.Hour)
			m.ObserveResyncChanges(3)
			from(in)
		},
		func(in *alert.Inputs) {
			now = in.Now
			m.ObserveNotification("admin-1", "accepted", "")
			from(in)
		})
}

// Store writes failing: a store that cannot write (closed, as a full disk would refuse)
// under the metrics' instrumentation.
func TestStoreWritesFailing(t *testing.T) {
	f := newFixture(t)
	now := t0
	m := metrics.New(func() time.Time { return now })
	raw, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	store := m.InstrumentStore(raw)
	f.occurrence(t, alert.KindStoreWrites,
		func(in *alert.Inputs) {
			raw.Close()
			if err := store.PutRecord(context.Background(), "k", "1", []byte("x")); err == nil {
				t.Fatal("a closed store accepted a write")
			}
			fail := m.LastStoreFailure()
			in.StoreFailureAt, in.StoreFailure = fail.At, fail.Op+": "+fail.Error
		},
		func(in *alert.Inputs) { in.Now = in.Now.Add(10 * time.Minute) })
}

func TestFindingsFailingToPatch(t *testing.T) {
	f := newFixture(t)
	failed := greep.Finding{ID: "f1", Group: "eng@example.com", Rule: "group-not-public", State: greep.FindingFailed, Detail: "patch refused: 403 forbidden"}
	f.occurrence(t, alert.KindPatchFailures,
		func(in *alert.Inputs) { in.FailedFindings = []greep.Finding{failed} },
		func(in *alert.Inputs) { in.FailedFindings = nil })
}

// A webhook that hangs or fails never blocks Send: the queue is bounded, each POST times
// out, and a message is dropped with a log line after its last attempt.
func TestWebhookThatHangsOrFailsNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	var full errorLog
	s := alert.NewSender(&notify.Poster{URL: hang.URL}, alert.SenderConfig{Queue: 2, Timeout: time.Hour, Backoff: time.Millisecond, Log: full.logger()})
	for range 100 {
		s.Send("storm") // returns at once: one in flight, two queued, the rest dropped
	}
	if !full.has("the webhook queue is full") {
		t.Error("messages past the queue's bound were not logged as dropped")
	}
	s.Close() // cuts off the hanging POST

	var dropped errorLog
	failing := &countingPoster{err: errors.New("503 from the webhook")}
	s = alert.NewSender(failing, alert.SenderConfig{Attempts: 3, Backoff: time.Millisecond, Log: dropped.logger()})
	s.Send("lost")
	wait.For(t, 30*time.Second, "a message that failed every attempt logged as dropped",
		func() bool { return dropped.has("alert dropped after its last attempt") })
	s.Close()
	if n := failing.count(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

// A snapshot whose findings could not be read neither ends nor starts a patch alert.
func TestUnknownFiguresKeepTheirAlerts(t *testing.T) {
	f := newFixture(t)
	f.in.FailedFindings = []greep.Finding{{ID: "f1", Group: "g@example.com", Rule: "r", State: greep.FindingFailed}}
	f.update(t)
	f.in.FailedFindings, f.in.Unknown = nil, []string{alert.KindPatchFailures}
	f.update(t)
	if n := len(f.firing(t)); n != 1 {
		t.Errorf("%d alerts firing after an unreadable snapshot, want the one kept", n)
	}
	f.in.Unknown = nil
	f.update(t)
	if ms := f.rec.waitMessages(t, 2); len(ms) != 2 || !strings.Contains(ms[1], "resolved") {
		t.Errorf("messages %q", ms)
	}
}
