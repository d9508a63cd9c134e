// Package wiringtest checks that a service's production wiring (what its
// services/<name>/main.go gives pkg/service.Run) is greep local's: the same routes,
// guarded alike.
package wiringtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// root is the repository's root, for queues.yaml and the rules file.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Runtime is a runtime as pkg/service opens one, over an embedded store, a queue that
// keeps what it is given and a small simulator: what a production main builds from.
func Runtime(t *testing.T) *wiring.Runtime {
	t.Helper()
	rt, _ := RuntimeSim(t)
	return rt
}

// RuntimeSim is Runtime and the simulator its Google clients call.
func RuntimeSim(t *testing.T) (*wiring.Runtime, *workspacesim.Server) {
	t.Helper()
	sim, err := workspacesim.Start(workspacesim.Config{Users: 5, Groups: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	qc, err := queueconfig.Load(filepath.Join(root(), "queues.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rt := wiring.New(store, &queuetest.Queue{}, qc, sim.Sim.Now, nil)
	if err := rt.ConnectGoogle(context.Background(), workspace.Config{Endpoint: sim.URL, AdminSubject: sim.Sim.Admin()}); err != nil {
		t.Fatal(err)
	}
	return rt, sim
}

// RulesFile is the shipped rules file.
func RulesFile() string { return filepath.Join(root(), "deploy", "remediation.yaml") }

// Local starts greep local with every service, on a small embedded simulator, with no
// sync: its Services are the wiring to compare with.
func Local(t *testing.T) *local.App {
	t.Helper()
	cfg := local.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.SimUsers, cfg.SimGroups = 5, 3
	cfg.QueuesFile = filepath.Join(root(), "queues.yaml")
	cfg.Rules = RulesFile()
	cfg.NoInitialSync = true
	cfg.ResyncEvery = 0
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = app.Close(ctx)
	})
	return app
}

// Same fails t unless prod, a service as its production main builds it, is wired as
// greep local wires the service of that name: the same routes on the same prefixes,
// each answering the same to a caller that is no task and to a task with a body no
// handler accepts (so nothing runs).
func Same(t *testing.T, prod *wiring.Service, app *local.App) {
	t.Helper()
	loc, ok := app.Services[prod.Name]
	if !ok {
		t.Fatalf("greep local mounts no service %q", prod.Name)
	}
	if !slices.Equal(prod.Routes, loc.Routes) {
		t.Errorf("%s: production routes %v, greep local's %v", prod.Name, prod.Routes, loc.Routes)
	}
	p, l := Fingerprint(t, *prod), Fingerprint(t, loc)
	if !slices.Equal(p, l) {
		t.Errorf("%s: production wiring differs from greep local's:\nproduction %q\nlocal      %q", prod.Name, p, l)
	}
}

// Fingerprint lists svc's routes (its chi router's, or its prefixes for another
// handler) with how each answers a caller that is no task and a task whose body is not
// JSON.
func Fingerprint(t *testing.T, svc wiring.Service) []string {
	t.Helper()
	var out []string
	add := func(method, route, path string) {
		plain := probe(svc.Handler, httptest.NewRequest(method, path, strings.NewReader("[")))
		req := httptest.NewRequest(method, path, strings.NewReader("["))
		req = req.WithContext(queue.WithInfo(req.Context(), queue.Info{Queue: "probe", Name: "probe"}))
		out = append(out, method+" "+route+" "+plain+" "+probe(svc.Handler, req))
	}
	r, ok := svc.Handler.(chi.Routes)
	if !ok {
		for _, route := range svc.Routes {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				add(m, route, route+"x")
				add(m, route+"healthz", route+"healthz")
			}
		}
		slices.Sort(out)
		return out
	}
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		path := strings.ReplaceAll(route, "/*", "/x")
		add(method, route, strings.NewReplacer("{", "", "}", "").Replace(path))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func probe(h http.Handler, r *http.Request) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return http.StatusText(rec.Code)
}
