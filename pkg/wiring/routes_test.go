package wiring

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(name)) })
}

// localRoutes are greep local's services' routes, as dispatch.yaml gives them.
func localRoutes() *Routes {
	rs := &Routes{}
	for p, n := range map[string]string{
		"/": "default", "/tasks/directory/": "directory", "/cron/directory/": "directory",
		"/tasks/groupssettings/": "groupssettings", "/push/": "push", "/tasks/remediation/": "remediation",
		"/cron/remediation/": "remediation", "/tasks/reports/": "reports", "/cron/reports/": "reports",
		"/cron/directory/publish": "publish",
	} {
		rs.Handle(p, named(n))
	}
	return rs
}

func TestRoutesLongestPrefixWins(t *testing.T) {
	rs := localRoutes()
	for path, want := range map[string]string{
		"/v1/groups/a@example.com/members": "default",
		"/tasks/directory/members":         "directory",
		"/tasks/directory":                 "default", // not under /tasks/directory/
		"/cron/directory/publish":          "publish", // exact beats the prefix
		"/cron/directory/publish/x":        "directory",
		"/push/notify":                     "push",
		"/pushx":                           "default",
		"/tasks/reports/../directory/x":    "reports", // no cleaning: the reports service sees it as sent
	} {
		w := httptest.NewRecorder()
		rs.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://greep"+path, nil))
		if got := w.Body.String(); got != want {
			t.Errorf("%s: served by %q, want %q", path, got, want)
		}
	}
}

func TestRoutesUnservedPathIsGoogleError(t *testing.T) {
	rs := &Routes{}
	rs.Handle("/tasks/directory/", named("directory"))
	w := httptest.NewRecorder()
	rs.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/groups", nil))
	var body struct {
		Error struct {
			Code   int
			Errors []struct{ Reason string }
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusNotFound || body.Error.Code != 404 || body.Error.Errors[0].Reason != "notFound" {
		t.Errorf("status %d, body %s (%v): want Google's 404 notFound", w.Code, w.Body, err)
	}
}

func TestRoutesRefuseWiringMistakes(t *testing.T) {
	for name, add := range map[string]func(*Routes){
		"twice":    func(rs *Routes) { rs.Handle("/push/", named("a")); rs.Handle("/push/", named("b")) },
		"relative": func(rs *Routes) { rs.Handle("push/", named("a")) },
		"method":   func(rs *Routes) { rs.Handle("GET /push/", named("a")) },
		"nil":      func(rs *Routes) { rs.Handle("/push/", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			add(&Routes{})
		}()
	}
}

// BenchmarkRouting: routing a read API request among greep local's services, Routes
// against the http.ServeMux it replaced.
func BenchmarkRouting(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/v1/groups/big%40example.com/members?maxResults=200", nil)
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	b.Run("routes", func(b *testing.B) {
		rs := localRoutes()
		rs.routes[len(rs.routes)-1].h = noop // "/" is the shortest
		b.ReportAllocs()
		for b.Loop() {
			rs.ServeHTTP(nil, r)
		}
	})
	b.Run("servemux", func(b *testing.B) {
		mux := http.NewServeMux()
		for _, rt := range localRoutes().routes {
			h := rt.h
			if rt.prefix == "/" {
				h = noop
			}
			mux.Handle(rt.prefix, h)
		}
		b.ReportAllocs()
		for b.Loop() {
			mux.ServeHTTP(nil, r)
		}
	})
}
