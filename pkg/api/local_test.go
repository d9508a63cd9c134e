package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/workspacesim"
)

// TestDashboardFromGreepLocal renders the dashboard of a running greep local (simulator
// tenant, initial sync, push channels, remediation) in headless Chromium: the page shows
// the numbers /v1/status gives.
func TestDashboardFromGreepLocal(t *testing.T) {
	browser := chromium(t)
	if testing.Short() {
		t.Skip("runs greep local")
	}
	const timeScale = 200
	sim, err := workspacesim.Start(workspacesim.Config{Users: 150, Groups: 200, Seed: 3, TimeScale: timeScale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.APIToken = apiToken
	cfg.Workspace, cfg.SimClock, cfg.AdminSubject = sim.URL, sim.Sim.Now, sim.Sim.Admin()
	cfg.TimeScale = timeScale
	cfg.QueuesFile = "../../queues.yaml"
	cfg.Rules = "../../deploy/remediation.yaml"
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close(context.Background()) })

	var st struct {
		Sync struct {
			State          string
			LastFullSyncAt *time.Time
			Groups         int64
		}
		Quota map[string]struct{ UsedToday int64 }
	}
	status := func() {
		req, _ := http.NewRequest("GET", app.URL+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	wait.Until(t, time.Minute, func() error {
		if status(); st.Sync.LastFullSyncAt == nil {
			return fmt.Errorf("greep local did not finish its sync: %+v", st.Sync)
		}
		return nil
	})
	if st.Sync.Groups != 200 || st.Quota["directory"].UsedToday == 0 {
		t.Fatalf("status after the sync: %+v", st)
	}

	u, _ := url.Parse(app.URL)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+apiToken)
		r.URL.Scheme, r.URL.Host, r.RequestURI = u.Scheme, u.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()

	dom := screenshot(t, browser, proxy.URL+"/", "dashboard-local.png")
	for _, want := range []string{"<h1>Greep</h1>", "200 groups", "directory", "Last full sync"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the dashboard of greep local lacks %q", want)
		}
	}
	if strings.Contains(dom, "never synced") {
		t.Error("the dashboard says the cache never synced")
	}
}
