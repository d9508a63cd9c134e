package faulttest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	built     = make(chan struct{})
	binDir    string
	binPath   string
	buildErr  error
	buildTook time.Duration
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The build of cmd/greep (mostly linking, many seconds on a busy machine) overlaps the
	// tests that run before the one that needs it.
	if run := flag.Lookup("test.run").Value.String(); !testing.Short() && (run == "" || matches(run, "TestKilledGreepLocalConverges")) {
		startBuild()
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func matches(pattern, name string) bool {
	re, err := regexp.Compile(strings.Split(pattern, "/")[0])
	return err != nil || re.MatchString(name)
}

// startBuild builds cmd/greep once per test run, in the background, without the race
// detector: the process under test is killed, not inspected.
func startBuild() {
	buildOnce.Do(func() {
		go func() {
			defer close(built)
			if binDir, buildErr = os.MkdirTemp("", "greep-faulttest-"); buildErr != nil {
				return
			}
			binPath = filepath.Join(binDir, "greep")
			start := time.Now()
			out, err := exec.Command("go", "build", "-o", binPath, "github.com/greephq/greep/cmd/greep").CombinedOutput()
			buildTook = time.Since(start)
			if err != nil {
				buildErr = fmt.Errorf("go build ./cmd/greep: %v\n%s", err, out)
			}
		}()
	})
}

// greepBinary returns the built greep binary, waiting for the build.
func greepBinary(t *testing.T) string {
	t.Helper()
	startBuild()
	waited := time.Now()
	<-built
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	t.Logf("go build ./cmd/greep took %.1fs; this test waited %.1fs for it", buildTook.Seconds(), time.Since(waited).Seconds())
	return binPath
}
