package local_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/greephq/greep/pkg/local"
)

// Must-show 4, its first half: greep local restarted with the same --data keeps its API
// token, so the dashboard's cookie and every script keep working; --api-token still wins.
func TestAPITokenKeptUnderData(t *testing.T) {
	sim := startSim(t, 20)
	dir := t.TempDir()
	cfg := config(sim, dir)
	cfg.APIToken = ""
	cfg.NoInitialSync = true
	start := func(cfg local.Config) *local.App {
		t.Helper()
		app, err := local.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	app := start(cfg)
	first := app.APIToken
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if first == "" {
		t.Fatal("no token drawn")
	}

	app = start(cfg)
	defer func() { app.Close(context.Background()) }()
	if app.APIToken != first {
		t.Fatalf("the restart drew a new token %q, want the kept %q", app.APIToken, first)
	}
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+first)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the first run's token after the restart: %s", res.Status)
	}
	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	cfg.APIToken = "given"
	app = start(cfg)
	if app.APIToken != "given" {
		t.Errorf("--api-token lost to the kept token: %q", app.APIToken)
	}
}
