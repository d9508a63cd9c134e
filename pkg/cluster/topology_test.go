package cluster_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cluster"
)

func TestLoadsTheRepositorysTopology(t *testing.T) {
	top, err := cluster.LoadTopology("../..")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"default", "directory", "groupssettings", "push", "remediation", "reports"}
	if got := top.Services(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("services %v, want %v", got, want)
	}
	if m := top.Apps["default"].Main; filepath.Base(m) != "api" {
		t.Errorf("default service's main %s, want services/api", m)
	}
	if top.Apps["directory"].Env["GREEP_RESYNC_EVERY"] != "1h" {
		t.Errorf("directory env %v", top.Apps["directory"].Env)
	}
	for path, svc := range map[string]string{
		"/push/notify":                "push",
		"/tasks/directory/refresh":    "directory",
		"/cron/directory/resync":      "directory",
		"/tasks/groupssettings/patch": "groupssettings",
		"/cron/remediation/sweep":     "remediation",
		"/cron/alerts":                "default",
		"/tasks/reports/watch":        "reports",
		"/v1/status":                  "default",
		"/cron/lanes":                 "default",
		"/":                           "default",
		"/_ah/push/x":                 "default",
	} {
		if got := cluster.Route(top.Rules, "127.0.0.1:8080", path); got != svc {
			t.Errorf("%s routed to %s, want %s", path, got, svc)
		}
	}
	if len(top.Cron) != 6 {
		t.Fatalf("%d cron jobs, want 6", len(top.Cron))
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, j := range top.Cron {
		switch j.URL {
		case "/cron/reports/renew":
			if n := j.Next(at); n != at.Add(10*time.Minute) || !j.Interval() {
				t.Errorf("renew next %v", n)
			}
		case "/cron/lanes":
			if n := j.Next(at); n != at.Add(time.Minute) || !j.Interval() || j.Target != "default" {
				t.Errorf("lanes next %v on %s", n, j.Target)
			}
		case "/cron/alerts":
			if n := j.Next(at); n != at.Add(time.Minute) || !j.Interval() || j.Target != "default" {
				t.Errorf("alerts next %v, target %s: want every minute on the default service", n, j.Target)
			}
		case "/cron/directory/publish":
			if n := j.Next(at); n != at.Add(5*time.Minute) || !j.Interval() {
				t.Errorf("publish next %v", n)
			}
		case "/cron/remediation/sweep":
			la, _ := time.LoadLocation("America/Los_Angeles")
			if n := j.Next(at); !n.Equal(time.Date(2026, 3, 2, 2, 0, 0, 0, la)) {
				t.Errorf("sweep next %v, want 02:00 Los Angeles the next day", n)
			}
		}
	}
}

func TestRouteFirstMatchWinsAndHosts(t *testing.T) {
	rules, err := cluster.ParseDispatch("dispatch.yaml", []byte(`dispatch:
  - url: "*/a/b/*"
    service: one
  - url: "*/a/*"
    service: two
  - url: "api.example.com/*"
    service: three
  - url: "*/exact"
    service: one
`), map[string]bool{"one": true, "two": true, "three": true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ host, path, want string }{
		{"x", "/a/b/c", "one"}, {"x", "/a/c", "two"}, {"api.example.com", "/z", "three"},
		{"other.example.com", "/z", "default"}, {"x", "/exact", "one"}, {"x", "/exact/more", "default"},
	} {
		if got := cluster.Route(rules, c.host, c.path); got != c.want {
			t.Errorf("%s%s -> %s, want %s", c.host, c.path, got, c.want)
		}
	}
}

// writeApp lays out a minimal app under a temporary root: every service of the repository
// with a trivial main package, the repository's dispatch.yaml and cron.yaml, and then
// the changes asked for.
func writeApp(t *testing.T, change map[string]string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"app.yaml":          "runtime: go125\nservice: default\nmain: ./services/api\n",
		"services/api/m.go": "package main\n\nfunc main() {}\n",
	}
	for _, s := range []string{"directory", "groupssettings", "push", "remediation", "reports"} {
		files["services/"+s+"/app.yaml"] = "runtime: go125\nservice: " + s + "\n"
		files["services/"+s+"/main.go"] = "package main\n\nfunc main() {}\n"
	}
	for _, f := range []string{"dispatch.yaml", "deploy/cron.yaml"} {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(b)
	}
	for f, s := range change {
		files[f] = s
	}
	for f, s := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if s == "" {
			continue // a file removed
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestRefusesWhatItCannotHonourWithFileAndLine(t *testing.T) {
	if _, err := cluster.LoadTopology(writeApp(t, nil)); err != nil {
		t.Fatalf("the unchanged layout: %v", err)
	}
	for name, c := range map[string]struct {
		change map[string]string
		want   string
	}{
		"unknown service": {map[string]string{"dispatch.yaml": "dispatch:\n  - url: \"*/push/*\"\n    service: push\n  - url: \"*/x/*\"\n    service: nosuch\n"},
			"dispatch.yaml:5: service \"nosuch\" is not one of the app's services"},
		"star inside the path": {map[string]string{"dispatch.yaml": "dispatch:\n  - url: \"*/tasks/*/x\"\n    service: push\n"},
			"dispatch.yaml:2: url \"*/tasks/*/x\": a '*' may only end the path"},
		"no path": {map[string]string{"dispatch.yaml": "dispatch:\n  - url: \"push\"\n    service: push\n"},
			"dispatch.yaml:2: url \"push\": want HOST/PATH"},
		"unknown key": {map[string]string{"dispatch.yaml": "dispatch:\n  - url: \"*/push/*\"\n    servce: push\n"},
			"dispatch.yaml:3: unknown key \"servce\""},
		"missing main": {map[string]string{"app.yaml": "runtime: go125\nservice: default\nmain: ./services/nope\n"},
			"app.yaml:3: main package"},
		"main not a command": {map[string]string{"services/push/main.go": "package push\n"},
			"services/push/app.yaml:1: main package"},
		"not go": {map[string]string{"services/push/app.yaml": "service: push\nruntime: python312\n"},
			"services/push/app.yaml:2: runtime \"python312\""},
		"bad schedule": {map[string]string{"deploy/cron.yaml": "cron:\n  - url: /cron/reports/renew\n    target: reports\n    schedule: every monday 09:00\n"},
			"cron.yaml:4: schedule \"every monday 09:00\""},
		"malformed yaml": {map[string]string{"dispatch.yaml": "dispatch:\n  - url: [\n"},
			"dispatch.yaml: yaml: line"},
		"duplicate service": {map[string]string{"services/push/app.yaml": "runtime: go125\nservice: directory\n"},
			"is also declared by"},
	} {
		_, err := cluster.LoadTopology(writeApp(t, c.change))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}

func FuzzParseDispatch(f *testing.F) {
	b, err := os.ReadFile("../../dispatch.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("dispatch:\n  - url: \"*/a/*\"\n    service: push\n"))
	f.Add([]byte("dispatch: 3\n"))
	f.Add([]byte("- a\n"))
	known := map[string]bool{"push": true, "default": true}
	f.Fuzz(func(t *testing.T, b []byte) {
		rules, err := cluster.ParseDispatch("dispatch.yaml", b, known)
		if err != nil {
			return
		}
		for _, r := range rules {
			if !known[r.Service] || !strings.HasPrefix(r.Path, "/") {
				t.Fatalf("accepted %+v", r)
			}
			cluster.Route(rules, "h", r.Path)
		}
	})
}

func FuzzParseCron(f *testing.F) {
	b, err := os.ReadFile("../../deploy/cron.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("cron:\n  - url: /x\n    schedule: every 5 minutes\n"))
	f.Add([]byte("cron:\n  - url: /x\n    schedule: every day 24:00\n    timezone: Nowhere/City\n"))
	known := map[string]bool{"default": true, "reports": true, "directory": true, "remediation": true}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		jobs, err := cluster.ParseCron("cron.yaml", b, known)
		if err != nil {
			return
		}
		for _, j := range jobs {
			if n := j.Next(at); !n.After(at) || n.After(at.Add(49*time.Hour)) && !j.Interval() {
				t.Fatalf("%+v: next run %v after %v", j, n, at)
			}
		}
	})
}

func FuzzParseApp(f *testing.F) {
	f.Add([]byte("runtime: go125\nservice: push\nenv_variables:\n  A: b\n"))
	f.Add([]byte("runtime: go125\nmain: ./nope\n"))
	f.Add([]byte("runtime: [x]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		app, err := cluster.ParseApp(filepath.Join(t.TempDir(), "app.yaml"), b)
		if err == nil && app.Service == "" {
			t.Fatalf("accepted an app without a service: %+v", app)
		}
	})
}
