package cluster

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

const defaultService = "default"

// App is one App Engine service, as its app.yaml declares it.
type App struct {
	Service string
	File    string            // its app.yaml
	Main    string            // the directory of its main package
	Env     map[string]string // env_variables
}

var (
	serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	goRuntime   = regexp.MustCompile(`^go1[0-9]{2}$`)
)

// ParseApp reads an app.yaml (file, as errors name it). Its main package is main:
// relative to the file's directory, or that directory itself, as gcloud builds it; the
// directory must hold a Go main package.
func ParseApp(file string, b []byte) (*App, error) {
	root, err := document(file, b)
	if err != nil {
		return nil, err
	}
	rt, rn, err := scalar(file, root, "runtime")
	if err != nil {
		return nil, err
	}
	if !goRuntime.MatchString(rt) {
		return nil, errAt(file, rn, "runtime %q: greep cluster runs Go services (go1NN) only", rt)
	}
	svc, sn, err := scalar(file, root, "service")
	if err != nil {
		return nil, err
	}
	if svc == "" {
		svc = defaultService
	}
	if !serviceName.MatchString(svc) {
		return nil, errAt(file, sn, "service %q: want lowercase letters, digits and hyphens", svc)
	}
	main, mn, err := scalar(file, root, "main")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(filepath.Dir(file), main)
	if err := checkMain(dir); err != nil {
		return nil, errAt(file, mn, "main package %s: %v", dir, err)
	}
	app := &App{Service: svc, File: file, Main: dir, Env: map[string]string{}}
	if ev := field(root, "env_variables"); ev != nil {
		keys, values := entries(ev)
		if ev.Kind != yaml.MappingNode {
			return nil, errAt(file, ev, "env_variables: want a mapping of NAME: value")
		}
		for i, k := range keys {
			if values[i].Kind != yaml.ScalarNode {
				return nil, errAt(file, values[i], "env_variables.%s: want a single value", k.Value)
			}
			app.Env[k.Value] = values[i].Value
		}
	}
	return app, nil
}

// checkMain finds a Go file of package main in dir.
func checkMain(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return errNoDir
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("\npackage main\n")) || bytes.HasPrefix(b, []byte("package main\n")) {
			return nil
		}
	}
	return errNoMain
}

type mainError string

func (e mainError) Error() string { return string(e) }

const (
	errNoDir  = mainError("no such directory")
	errNoMain = mainError("no Go file of package main")
)

func names(m map[string]bool) string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
