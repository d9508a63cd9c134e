package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
)

// Must-show 5: the built binary, copied to an empty directory, runs greep local with the
// embedded defaults (no queues.yaml, no rules file around) and syncs; --print-config
// writes the repository's files out.
func TestBinaryRunsFromAnEmptyDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "greep")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	empty := t.TempDir()

	printed, err := runIn(empty, bin, "local", "--print-config")
	if err != nil {
		t.Fatalf("--print-config: %v", err)
	}
	for _, f := range []string{"../../queues.yaml", "../../deploy/remediation.yaml"} {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(printed, want) {
			t.Errorf("--print-config does not write %s as the repository has it", f)
		}
	}

	cmd := exec.Command(bin, "local", "--addr", "127.0.0.1:0", "--data", filepath.Join(empty, "data"),
		"--sim-users", "40", "--sim-groups", "20", "--time-scale", "50")
	cmd.Dir = empty
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer // written by exec's copier while the test reads it
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()

	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	tokRe := regexp.MustCompile(`read API token: (\S+)`)
	var url, token string
	sc := bufio.NewScanner(stdout)
	for (url == "" || token == "") && sc.Scan() {
		if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
		if m := tokRe.FindStringSubmatch(sc.Text()); m != nil {
			token = m[1]
		}
	}
	if url == "" || token == "" {
		t.Fatalf("greep local did not start from an empty directory:\n%s", stderr.String())
	}
	go func() {
		for sc.Scan() { // keep the progress lines flowing
		}
	}()

	wait.Until(t, 2*time.Minute, func() error {
		var st struct {
			Sync struct {
				State          string     `json:"state"`
				LastFullSyncAt *time.Time `json:"lastFullSyncAt"`
				Groups         int        `json:"groups"`
			} `json:"sync"`
		}
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(res.Body).Decode(&st)
			res.Body.Close()
		}
		if st.Sync.LastFullSyncAt == nil || st.Sync.Groups != 20 {
			return fmt.Errorf("no full sync from an empty directory: %+v\n%s", st.Sync, tail(stderr.String()))
		}
		return nil
	})
}

func runIn(dir, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	return cmd.Output()
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// lockedBuffer is a bytes.Buffer one goroutine writes while another reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
