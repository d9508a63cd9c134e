package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/wiring"
	"go.uber.org/zap"
)

// webhook is a fake Slack-compatible receiver counting what it is sent.
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

// TestAlertsJudgedByTheCronAcrossInstances (issue 17): in production the default service
// judges the alerts on App Engine cron's /cron/alerts, through the main's own build. Two
// instances share the store: the cron lands on either, and the webhook gets one message
// when a finding fails to patch and one when it is fixed, however often and wherever it
// is judged; /v1/status shows the alert while it fires. Only cron may call the path.
func TestAlertsJudgedByTheCronAcrossInstances(t *testing.T) {
	ctx := context.Background()
	hook := &webhook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	shipped, err := os.ReadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(t.TempDir(), "remediation.yaml")
	withURL := strings.Replace(string(shipped), `notifyURL: ""`, `notifyURL: "`+srv.URL+`"`, 1)
	if withURL == string(shipped) {
		t.Fatal(`the shipped rules no longer say notifyURL: ""`)
	}
	if err := os.WriteFile(rulesFile, []byte(withURL), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"--api-token", "tok", "--rules", rulesFile})
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	qc, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The main's own runtime, where the cron header is trusted (App Engine, or behind
	// greep cluster's front; both strip it from outside requests): before newRuntime
	// trusted it, every /cron/alerts answered 403.
	t.Setenv("GREEP_TRUST_TASK_HEADERS", "true")
	var instances []http.Handler
	for range 2 {
		rt := newRuntime(store, qc, cfg, zap.NewNop())
		svc, err := build(ctx, rt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Ops.(*wiring.Alerts).Close()
		instances = append(instances, svc.Handler)
	}
	cron := func(i int) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, wiring.PathCronAlerts, nil)
		req.Header.Set("X-Appengine-Cron", "true")
		rec := httptest.NewRecorder()
		instances[i%2].ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("cron on instance %d: %d %s", i%2, rec.Code, rec.Body)
		}
	}
	setFinding := func(state string) {
		t.Helper()
		if _, err := store.UpdateFinding(ctx, "f1", func(f *greep.Finding) error {
			f.ID, f.Group, f.Rule, f.State, f.Detail = "f1", "eng@example.com", "group-not-public", state, "patch refused: 403 forbidden"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	rec := httptest.NewRecorder()
	instances[0].ServeHTTP(rec, httptest.NewRequest(http.MethodGet, wiring.PathCronAlerts, nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("/cron/alerts without the cron header: %d, want 403", rec.Code)
	}

	setFinding(greep.FindingFailed)
	for i := range 4 {
		cron(i)
	}
	if ms := hook.messages(); len(ms) != 1 || !strings.Contains(ms[0], "failed to patch") {
		t.Fatalf("after the failure, judged 4 times on 2 instances: messages %q, want one", ms)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
	req.Header.Set("Authorization", "Bearer tok")
	rec = httptest.NewRecorder()
	instances[1].ServeHTTP(rec, req)
	var st struct {
		Alerts []struct{ Kind string } `json:"alerts"`
	}
	if err := json.NewDecoder(rec.Body).Decode(&st); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("/v1/status: %d, %v", rec.Code, err)
	}
	if len(st.Alerts) != 1 || st.Alerts[0].Kind != "patch-failures" {
		t.Errorf("/v1/status alerts %+v, want the patch failure", st.Alerts)
	}

	setFinding(greep.FindingFixed)
	for i := range 4 {
		cron(i + 1)
	}
	if ms := hook.messages(); len(ms) != 2 || !strings.Contains(ms[1], "resolved") {
		t.Errorf("after the fix: messages %q, want the one on occurrence and one on recovery", ms)
	}
}
