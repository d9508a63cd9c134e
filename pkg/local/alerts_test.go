package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/local"
)

// hook is a Slack-compatible webhook counting what it receives.
type hook struct {
	mu   sync.Mutex
	msgs []string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Text string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	h.mu.Lock()
	h.msgs = append(h.msgs, body.Text)
	h.mu.Unlock()
}

func (h *hook) matching(s string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// rulesWithHook is the shipped rules file with its notify URL pointed at url.
func rulesWithHook(t *testing.T, url string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(b), `notifyURL: ""`, "notifyURL: "+url, 1)
	if out == string(b) {
		t.Fatal("deploy/remediation.yaml has no empty notifyURL to point at the test's webhook")
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The disk-full story of the issue: store writes fail, and the findings' webhook is told
// (the log line alone was all there was), and /v1/status shows the alert.
func TestStoreFailureAlertsTheWebhook(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	sim := startSim(t, 30)
	cfg := config(sim, t.TempDir())
	cfg.NoRemediation = false
	cfg.Rules = rulesWithHook(t, srv.URL)
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Kill()
	waitSynced(t, app)

	// The store stops taking writes, as a full disk does; the next resync's writes fail.
	app.Store.Close()
	if _, err := app.Directory.StartResync(context.Background()); err == nil {
		t.Fatal("a resync started on a store that takes no writes")
	}
	wait.Until(t, time.Minute, func() error {
		if h.matching("store writes are failing") == 0 {
			return fmt.Errorf("the webhook was not told (%d messages)", h.matching(""))
		}
		return nil
	})
	var status struct {
		Alerts []struct{ Kind, Text string } `json:"alerts"`
	}
	getJSON(t, app, "/v1/status", &status)
	if len(status.Alerts) == 0 || status.Alerts[0].Kind != "store-writes" {
		t.Errorf("/v1/status alerts %+v", status.Alerts)
	}
}
