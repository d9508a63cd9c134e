package callbudget_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/queue"
)

type reservation struct{ api, lane string }

// reserver records reservations and refuses when told to.
type reserver struct {
	mu     sync.Mutex
	got    []reservation
	refuse error
}

func (r *reserver) Reserve(_ context.Context, api, lane string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	r.got = append(r.got, reservation{api, lane})
	return nil
}

func setup(t *testing.T, opts ...callbudget.Option) (*http.Client, *reserver, *atomic.Int64, string) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	res := &reserver{}
	hc := &http.Client{Transport: callbudget.Wrap(res, opts...)(http.DefaultTransport)}
	return hc, res, &hits, srv.URL
}

func get(ctx context.Context, hc *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func TestSecondCallOfATaskFailsLoudly(t *testing.T) {
	var violations []error
	hc, res, hits, base := setup(t, callbudget.OnViolation(func(err error) { violations = append(violations, err) }))
	ctx := queue.WithInfo(context.Background(), queue.Info{Queue: "directory", Name: "t1"})
	ctx = callbudget.WithBudget(ctx, 1)

	if err := get(ctx, hc, base+"/admin/directory/v1/groups/g1"); err != nil {
		t.Fatalf("first call: %v", err)
	}
	err := get(ctx, hc, base+"/admin/directory/v1/groups/g1/members")
	if !errors.Is(err, callbudget.ErrExceeded) {
		t.Fatalf("second call: %v, want ErrExceeded", err)
	}
	if len(violations) != 1 || !errors.Is(violations[0], callbudget.ErrExceeded) {
		t.Errorf("violation hook saw %v", violations)
	}
	if hits.Load() != 1 {
		t.Errorf("server saw %d calls, want 1: the refused call must not be sent", hits.Load())
	}
	if len(res.got) != 1 || res.got[0] != (reservation{"directory", "directory"}) {
		t.Errorf("reservations %v: the refused call must spend no quota", res.got)
	}
	if callbudget.Used(ctx) != 2 {
		t.Errorf("used %d", callbudget.Used(ctx))
	}
}

func TestTaskWithoutBudgetIsRefused(t *testing.T) {
	hc, _, hits, base := setup(t)
	ctx := queue.WithInfo(context.Background(), queue.Info{Queue: "directory"})
	err := get(ctx, hc, base+"/admin/directory/v1/groups")
	if !errors.Is(err, callbudget.ErrNoBudget) {
		t.Fatalf("got %v, want ErrNoBudget", err)
	}
	if hits.Load() != 0 {
		t.Error("call sent")
	}
}

func TestOutsideTasksCallsAreCountedNotBudgeted(t *testing.T) {
	hc, res, _, base := setup(t)
	for range 3 {
		if err := get(context.Background(), hc, base+"/groups/v1/groups/a@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if len(res.got) != 3 || res.got[0] != (reservation{"groupssettings", ""}) {
		t.Errorf("reservations %v", res.got)
	}
}

func TestQuotaRefusalIsNotSent(t *testing.T) {
	hc, res, hits, base := setup(t)
	refusal := errors.New("budget spent")
	res.refuse = refusal
	ctx := callbudget.WithBudget(context.Background(), 1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/reports/v1/activity/users/all/applications/admin/watch", &closeRecorder{Reader: strings.NewReader("{}")})
	_, err := hc.Do(req)
	if !errors.Is(err, refusal) {
		t.Fatalf("got %v", err)
	}
	if hits.Load() != 0 {
		t.Error("refused call was sent")
	}
	if !req.Body.(*closeRecorder).closed {
		t.Error("request body not closed")
	}
}

func TestUnknownAPIIsRefused(t *testing.T) {
	hc, _, hits, base := setup(t)
	if err := get(context.Background(), hc, base+"/storage/v1/b"); err == nil || hits.Load() != 0 {
		t.Errorf("unknown API: err %v, hits %d", err, hits.Load())
	}
}

func TestPerTask(t *testing.T) {
	var sawBudget, sawOutside bool
	h := callbudget.PerTask(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := queue.InfoFrom(r.Context()); ok {
			sawBudget = callbudget.HasBudget(r.Context())
		} else {
			sawOutside = callbudget.HasBudget(r.Context())
		}
	}))
	r := httptest.NewRequest(http.MethodPost, "/tasks/directory/refresh", nil)
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(queue.WithInfo(r.Context(), queue.Info{Queue: "directory"})))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/status", nil))
	if !sawBudget || sawOutside {
		t.Errorf("task budget %v, outside budget %v", sawBudget, sawOutside)
	}
}

func TestAPIOf(t *testing.T) {
	for path, want := range map[string]string{
		"https://admin.googleapis.com/admin/directory/v1/groups":                    "directory",
		"https://admin.googleapis.com/admin/directory_v1/channels/stop":             "directory",
		"http://127.0.0.1:9/admin/reports/v1/activity/users/all/applications/admin": "reports",
		"https://admin.googleapis.com/admin/reports_v1/channels/stop":               "reports",
		"https://www.googleapis.com/groups/v1/groups/a%40b.com":                     "groupssettings",
		"https://oauth2.googleapis.com/token":                                       "",
	} {
		u, _ := url.Parse(path)
		got, _ := callbudget.APIOf(u)
		if got != want {
			t.Errorf("APIOf(%s) = %q, want %q", path, got, want)
		}
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
