package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Topology is the app as its deployment files declare it: the services, the dispatch
// rules and the cron jobs, read from an app's root directory.
type Topology struct {
	Root  string
	Apps  map[string]*App // by service
	Rules []Rule
	Cron  []CronJob
}

// LoadTopology reads root/app.yaml (the default service), root/services/*/app.yaml,
// root/dispatch.yaml and root/deploy/cron.yaml, and refuses, with the file and line,
// anything the cluster could not honour.
func LoadTopology(root string) (*Topology, error) {
	t := &Topology{Root: root, Apps: map[string]*App{}}
	files, err := filepath.Glob(filepath.Join(root, "services", "*", "app.yaml"))
	if err != nil {
		return nil, err
	}
	files = append([]string{filepath.Join(root, "app.yaml")}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		app, err := ParseApp(f, b)
		if err != nil {
			return nil, err
		}
		if prev, dup := t.Apps[app.Service]; dup {
			return nil, &fileError{file: f, msg: fmt.Sprintf("service %q is also declared by %s", app.Service, prev.File)}
		}
		t.Apps[app.Service] = app
	}
	if t.Apps[defaultService] == nil {
		return nil, &fileError{file: filepath.Join(root, "app.yaml"), msg: "no default service"}
	}
	known := map[string]bool{}
	for s := range t.Apps {
		known[s] = true
	}
	if t.Rules, err = readWith(filepath.Join(root, "dispatch.yaml"), func(f string, b []byte) ([]Rule, error) { return ParseDispatch(f, b, known) }); err != nil {
		return nil, err
	}
	if t.Cron, err = readWith(filepath.Join(root, "deploy", "cron.yaml"), func(f string, b []byte) ([]CronJob, error) { return ParseCron(f, b, known) }); err != nil {
		return nil, err
	}
	return t, nil
}

func readWith[T any](file string, parse func(string, []byte) (T, error)) (T, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		var zero T
		return zero, err
	}
	return parse(file, b)
}

// Services lists the service names, default first, then by name.
func (t *Topology) Services() []string {
	var out []string
	for s := range t.Apps {
		if s != defaultService {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return append([]string{defaultService}, out...)
}
