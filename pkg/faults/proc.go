package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
)

// procConfig is what every run of greep local in a scenario shares: the same data
// directory, address (so watch channels made by a killed run still reach its successor)
// and flags.
type procConfig struct {
	bin, workspace, admin, dataDir, addr, rules, queues, logPath string
	timeScale                                                    float64
	// within bounds each wait on the process.
	within time.Duration
}

const procToken = "faults-token"

// greepProc is one `greep local` process.
type greepProc struct {
	cmd    *exec.Cmd
	url    string
	done   chan error
	within time.Duration
}

// start runs greep local and waits until its read API answers. The process it returns,
// even with an error, must be killed.
func (c procConfig) start(ctx context.Context) (*greepProc, error) {
	log, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n===== start %s =====\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin, "local",
		"--workspace", c.workspace, "--admin-subject", c.admin,
		"--data", c.dataDir, "--addr", c.addr, "--api-token", procToken,
		"--time-scale", fmt.Sprint(c.timeScale), "--queues", c.queues,
		"--rules", c.rules, "--remediation", "remediate",
		"--resync-every", "0", "--debounce", "30s")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting greep local: %w", err)
	}
	p := &greepProc{cmd: cmd, url: "http://" + c.addr, done: make(chan error, 1), within: c.within}
	go func() { p.done <- cmd.Wait() }()
	var exited error
	err = poll(ctx, c.within, "greep local answering", func() (bool, string) {
		select {
		case err := <-p.done:
			p.done <- err
			exited = fmt.Errorf("greep local exited at start: %v", err)
			return true, ""
		default:
		}
		var st status
		if err := p.get(ctx, "/v1/status", &st); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if err == nil {
		err = exited
	}
	return p, err
}

// kill sends SIGKILL (no cleanup of any kind runs) and waits for the process to be gone.
func (p *greepProc) kill() error {
	select {
	case err := <-p.done:
		p.done <- err
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_, err := p.wait()
	return err
}

// stop asks for a clean stop (SIGINT, as Ctrl-C) and waits for it: an error if the
// process did not exit, or exited with an error.
func (p *greepProc) stop() error {
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	exit, err := p.wait()
	if err != nil {
		return err
	}
	return exit
}

// wait returns the process's exit status, or an error if it did not exit in time (it is
// then killed).
func (p *greepProc) wait() (exit, err error) {
	select {
	case exit := <-p.done:
		p.done <- exit
		return exit, nil
	case <-time.After(p.within):
		_ = p.cmd.Process.Kill()
		return nil, fmt.Errorf("greep local did not exit within %s", p.within)
	}
}

func (p *greepProc) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+procToken)
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

// status is the part of /v1/status the scenario reads.
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
func (p *greepProc) groupIDs(ctx context.Context) (map[string]string, error) {
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
		if err := p.get(ctx, path, &page); err != nil {
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

// checkReopens opens the store file a killed process left and returns what is wrong with
// it: bbolt's own consistency check must find nothing, and Greep's store must open it and
// read every group the read API served before the kill, with its members.
func checkReopens(ctx context.Context, path string, committed map[string]string) (probs problems) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		probs.add("bbolt.Open after SIGKILL: %v", err)
		return probs
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
		probs.add("the store file is inconsistent after SIGKILL: %v", err)
		return probs
	}

	st, err := bolt.Open(path)
	if err != nil {
		probs.add("bolt.Open after SIGKILL: %v", err)
		return probs
	}
	defer st.Close()
	stored := map[string]string{}
	for tok := ""; ; {
		gs, next, err := st.Groups(ctx, greep.Page{Token: tok, Limit: 1000})
		if err != nil {
			probs.add("reading the groups after SIGKILL: %v", err)
			return probs
		}
		for _, g := range gs {
			stored[g.ID] = g.Email
			if _, err := st.Members(ctx, g.ID); err != nil {
				probs.add("reading the members of %s after SIGKILL: %v", g.Email, err)
			}
		}
		if tok = next; tok == "" {
			break
		}
	}
	for id, email := range committed {
		if stored[id] != email {
			probs.add("group %s (%s) was served before the kill, the reopened store has %q", email, id, stored[id])
		}
	}
	return probs
}

// tail is the end of a log file.
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
