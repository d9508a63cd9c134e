package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/internal/wait"
)

func TestParseConfig(t *testing.T) {
	t.Setenv("PORT", "9099")
	c, err := parseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9099" || c.Store != "datastore" || c.Clients != "deploy/clients.yaml" || c.Pprof {
		t.Errorf("defaults: %+v", c)
	}
	t.Setenv("GREEP_PPROF", "true")
	if c, err := parseConfig(nil); err != nil || !c.Pprof {
		t.Errorf("GREEP_PPROF=true: pprof %v, %v", c.Pprof, err)
	}
	for _, args := range [][]string{{"--store", "mysql"}, {"--nosuch"}, {"extra"}} {
		if _, err := parseConfig(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestRunServesAndStops(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		t.Run(fmt.Sprintf("pprof=%v", pprof), func(t *testing.T) { testRunServesAndStops(t, pprof) })
	}
}

func testRunServesAndStops(t *testing.T, pprof bool) {
	addr := freeAddr(t)
	cfg, err := parseConfig([]string{"--addr", addr, "--store", "embedded", "--data", filepath.Join(t.TempDir(), "g.db"), "--api-token", "tok", "--queues", "../../queues.yaml", fmt.Sprintf("--pprof=%v", pprof)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, zap.NewNop()) }()

	get := func(path, token string) (int, string) {
		var code int
		var body []byte
		wait.Until(t, 30*time.Second, func() error { // the server may still be starting
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s%s", addr, path), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			code = resp.StatusCode
			body, err = io.ReadAll(resp.Body)
			return err
		})
		return code, string(body)
	}
	if code, _ := get("/healthz", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code, body := get("/v1/groups", "tok"); code != 200 || !strings.Contains(body, `"groups":[]`) {
		t.Errorf("groups: %d %s", code, body)
	}
	if code, _ := get("/v1/groups", "wrong"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	// Go's profiles only with --pprof, and then behind the operators' credentials.
	want := 404
	if pprof {
		want = 200
		if code, _ := get("/debug/pprof/heap", ""); code != 401 {
			t.Errorf("heap profile without a token: %d, want 401", code)
		}
	}
	if code, _ := get("/debug/pprof/heap", "tok"); code != want {
		t.Errorf("heap profile with the token: %d, want %d", code, want)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

// With the Datastore emulator (make test starts one), the service serves from Datastore.
func TestRunOnDatastoreEmulator(t *testing.T) {
	if os.Getenv("DATASTORE_EMULATOR_HOST") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true needs the Datastore emulator (make test starts it)")
		}
		t.Skip("DATASTORE_EMULATOR_HOST not set")
	}
	if os.Getenv("DATASTORE_PROJECT_ID") == "" {
		t.Setenv("DATASTORE_PROJECT_ID", "greep-test")
	}
	addr := freeAddr(t)
	cfg, err := parseConfig([]string{"--addr", addr, "--store", "datastore", "--api-token", "tok", "--queues", "../../queues.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, zap.NewNop()) }()
	var code int
	for range 200 {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer tok")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			code = resp.StatusCode
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if code != 200 {
		t.Fatalf("/v1/status on Datastore: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
