// Package deploy holds the App Engine deployment files; its test stages every service the
// way `gcloud app deploy` does and builds the staged package, so a layout App Engine would
// reject fails CI instead of a deploy.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stager is the App Engine Go stager shipped in gcloud's app-engine-go component; gcloud
// runs it before uploading a Go service.
func stager(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("GO_APP_STAGER")}
	if out, err := exec.Command("gcloud", "info", "--format=value(installation.sdk_root)").Output(); err == nil {
		candidates = append(candidates, filepath.Join(strings.TrimSpace(string(out)), "platform/google_appengine/go-app-stager"))
	}
	candidates = append(candidates, "/usr/lib/google-cloud-sdk/platform/google_appengine/go-app-stager")
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("go-app-stager not found (gcloud's app-engine-go component); CI must stage every service")
	}
	t.Skip("go-app-stager not found; install gcloud's app-engine-go component")
	return ""
}

// serviceYAMLs lists the default service's app.yaml and every services/<name>/app.yaml.
func serviceYAMLs(t *testing.T, root string) []string {
	t.Helper()
	yamls := []string{filepath.Join(root, "app.yaml")}
	more, err := filepath.Glob(filepath.Join(root, "services", "*", "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return append(yamls, more...)
}

// mainPackage is what App Engine's Go buildpack builds: app.yaml's `main:` if set (relative
// to the module root), else the directory the stager recorded.
func mainPackage(t *testing.T, yamlPath, staged string) string {
	t.Helper()
	f, err := os.Open(yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "main:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	b, err := os.ReadFile(filepath.Join(staged, "_main-package-path"))
	if err != nil {
		t.Fatalf("stager wrote no _main-package-path: %v", err)
	}
	return "./" + strings.TrimSpace(string(b))
}

func TestStageEveryService(t *testing.T) {
	if testing.Short() {
		t.Skip("stages and builds every service")
	}
	st := stager(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, y := range serviceYAMLs(t, root) {
		rel, _ := filepath.Rel(root, y)
		t.Run(rel, func(t *testing.T) {
			staged := t.TempDir()
			out, err := exec.Command(st, y, filepath.Dir(y), staged).CombinedOutput()
			if err != nil {
				t.Fatalf("go-app-stager %s: %v\n%s", rel, err, out)
			}
			for _, l := range []string{"runtime: go1", "service:"} {
				b, _ := os.ReadFile(y)
				if !strings.Contains(string(b), l) && !(l == "service:" && rel == "app.yaml") {
					t.Errorf("%s lacks %q", rel, l)
				}
			}
			pkg := mainPackage(t, y, staged)
			if strings.HasPrefix(pkg, "/") || strings.HasPrefix(pkg, "..") {
				t.Fatalf("main package %q: App Engine's buildpack rejects absolute and parent paths", pkg)
			}
			build := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "app"), pkg)
			build.Dir = staged
			build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("building staged %s (%s): %v\n%s", rel, pkg, err, out)
			}
		})
	}
}
