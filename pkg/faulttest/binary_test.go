package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
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

// greepProc is one `greep local` process.
type greepProc struct {
	cmd   *exec.Cmd
	url   string
	token string
	done  chan error
}

// procConfig is what every run of greep local in a test shares: the same data directory,
// address (so watch channels made by a killed run still reach its successor) and flags.
type procConfig struct {
	bin, workspace, admin, dataDir, addr, rules, queues, logPath string
}

func newProcConfig(t *testing.T, s *simServer, rulesPath string) procConfig {
	t.Helper()
	queues, err := filepath.Abs("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := procConfig{
		bin: greepBinary(t), workspace: s.URL, admin: s.Sim.Admin(),
		dataDir: keepDir(t), addr: freeAddr(t), rules: rulesPath, queues: queues,
		logPath: filepath.Join(t.TempDir(), "greep.log"),
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of greep local's log:\n%s", tail(c.logPath))
		}
	})
	return c
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

const procToken = "faulttest-token"

// start runs greep local and waits until its read API answers.
func (c procConfig) start(t *testing.T) *greepProc {
	t.Helper()
	log, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintf(log, "\n===== start %s =====\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin, "local",
		"--workspace", c.workspace, "--admin-subject", c.admin,
		"--data", c.dataDir, "--addr", c.addr, "--api-token", procToken,
		"--time-scale", fmt.Sprint(timeScale), "--queues", c.queues,
		"--rules", c.rules, "--remediation", "remediate",
		"--resync-every", "0", "--debounce", "30s")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &greepProc{cmd: cmd, url: "http://" + c.addr, token: procToken, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.kill(t) })
	eventually(t, converge, "greep local answering", func() (bool, string) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("greep local exited at start: %v\n%s", err, tail(c.logPath))
		default:
		}
		var st status
		if err := p.get("/v1/status", &st); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return p
}

// kill sends SIGKILL (no cleanup of any kind runs) and waits for the process to be gone.
func (p *greepProc) kill(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
}

// stop asks for a clean stop (SIGINT, as Ctrl-C) and waits for it.
func (p *greepProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Errorf("greep local after SIGINT: %v", err)
	}
}

func (p *greepProc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(converge):
		_ = p.cmd.Process.Kill()
		t.Fatal("greep local did not exit")
		return nil
	}
}

func (p *greepProc) get(path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, p.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// status is the part of /v1/status the tests read.
type status struct {
	Sync struct {
		State          string     `json:"state"`
		LastFullSyncAt *time.Time `json:"lastFullSyncAt"`
		GroupsTotal    int64      `json:"groupsTotal"`
		GroupsDone     int64      `json:"groupsDone"`
	} `json:"sync"`
	Queues map[string]greep.QueueStat `json:"queues"`
}

// groupIDs lists the groups the read API serves (so the store had committed them).
func (p *greepProc) groupIDs() (map[string]string, error) {
	var page struct {
		Groups []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"groups"`
		NextPageToken string `json:"nextPageToken"`
	}
	out := map[string]string{}
	for tok := ""; ; tok = page.NextPageToken {
		page.NextPageToken = ""
		path := "/v1/groups?maxResults=1000"
		if tok != "" {
			path += "&pageToken=" + tok
		}
		if err := p.get(path, &page); err != nil {
			return nil, err
		}
		for _, g := range page.Groups {
			out[g.ID] = g.Email
		}
		if page.NextPageToken == "" {
			return out, nil
		}
	}
}

// checkReopens opens the store file a killed process left: bbolt's own consistency check
// finds nothing, and Greep's store opens it and reads every group the read API served
// before the kill, with its members.
func checkReopens(t *testing.T, path string, committed map[string]string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("bbolt.Open after SIGKILL: %v", err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	db.Close()
	if err != nil {
		t.Fatalf("the store file is inconsistent after SIGKILL: %v", err)
	}

	st, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("bolt.Open after SIGKILL: %v", err)
	}
	defer st.Close()
	ctx := context.Background()
	stored := map[string]string{}
	for tok := ""; ; {
		gs, next, err := st.Groups(ctx, greep.Page{Token: tok, Limit: 1000})
		if err != nil {
			t.Fatalf("reading the groups after SIGKILL: %v", err)
		}
		for _, g := range gs {
			stored[g.ID] = g.Email
			if _, err := st.Members(ctx, g.ID); err != nil {
				t.Errorf("reading the members of %s after SIGKILL: %v", g.Email, err)
			}
		}
		if tok = next; tok == "" {
			break
		}
	}
	for id, email := range committed {
		if stored[id] != email {
			t.Errorf("group %s (%s) was served before the kill, the reopened store has %q", email, id, stored[id])
		}
	}
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	return strings.Join(lines, "\n")
}

// keepDir is the data directory: FAULTTEST_DATA names one to keep for inspection after
// a failure (emptied first), otherwise a temporary one.
func keepDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("FAULTTEST_DATA")
	if d == "" {
		return t.TempDir()
	}
	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}
