package api

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"
)

// TestOpenAPIDescribesEveryRoute walks the router and fails for any route (method and
// path) docs/openapi.yaml does not describe, and for any path it describes that the
// router does not serve.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	s := newTestServer(t, newMemStore(), nil)
	served := map[string]bool{}
	err = chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/") // chi's mount joints
		served[route] = true
		ops, ok := doc.Paths[route]
		if !ok {
			t.Errorf("route %s %s is not in docs/openapi.yaml", method, route)
			return nil
		}
		if strings.HasSuffix(route, "/*") {
			return nil // the catch-all: documented by the methods it refuses
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("%s %s is not in docs/openapi.yaml", method, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range doc.Paths {
		if !served[p] {
			t.Errorf("docs/openapi.yaml describes %s, which the router does not serve", p)
		}
	}
	if len(served) < 14 {
		t.Errorf("walked only %d routes", len(served))
	}
}
