package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process the cluster runs (a service, or the Datastore emulator), in a
// process group of its own so that stopping it reaches every child it started.
type proc struct {
	name    string
	argv    []string
	dir     string
	env     []string
	logPath string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process exited; err is then set
	err  error
}

// start runs the process, appending its output to its log.
func (p *proc) start() error {
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n===== greep cluster: start %s at %s =====\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir, cmd.Env = p.dir, p.env
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so a stop reaches its children; and killed with this process
	// should it die without stopping the cluster (a panic, a SIGKILL).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return nil
}

// exited reports whether the process ended, and how.
func (p *proc) exited() (bool, error) {
	if p.done == nil {
		return true, nil
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// waitHTTP waits until url answers (any status: the process serves) or the process
// exits; both bounded by within.
func (p *proc) waitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if done, err := p.exited(); done {
			return fmt.Errorf("%s exited at start (%v); the end of its log, %s:\n%s", p.name, err, p.logPath, tail(p.logPath, 30))
		}
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on %s within %s; the end of its log, %s:\n%s", p.name, url, within, p.logPath, tail(p.logPath, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// signal sends sig to the process's group and to any descendant that left the group (the
// Datastore emulator's java process does): every process it started, by id.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pid := p.cmd.Process.Pid
	for _, d := range descendants(pid) {
		_ = syscall.Kill(d, sig)
	}
	_ = syscall.Kill(-pid, sig)
}

// kill ends the process at once with SIGKILL (nothing of it runs any cleanup) and waits
// until it is gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	if p.done != nil {
		<-p.done
	}
}

// stop asks the process to stop (SIGTERM, as App Engine does) and kills it after grace.
// How it exited is logged, not returned: App Engine does not care either.
func (p *proc) stop(grace time.Duration, logf func(string, ...any)) error {
	if done, _ := p.exited(); done {
		return nil
	}
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			logf("%s stopped: %v", p.name, p.err)
		}
		return nil
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, grace)
	}
}

// descendants lists the processes below pid, read from /proc (empty where there is none).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The parent's pid is the second field after the command's closing parenthesis.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], id)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// tail is the last n lines of a log file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
