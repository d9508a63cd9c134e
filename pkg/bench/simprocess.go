package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/workspacesim"
)

// simProcess is `greep sim` run as a child process, so that this process's CPU time is
// Greep's (or the floor's) alone, without the simulator's.
type simProcess struct {
	cmd     *exec.Cmd
	URL     string
	Subject string
	done    chan struct{}
}

// startSimProcess starts `greep sim` on a free port with the tenant of o, without a
// per-minute quota (Greep paces itself; the floor is not paced).
func startSimProcess(ctx context.Context, o Options) (*simProcess, error) {
	if o.GreepBinary == "" {
		return nil, errors.New("the greep binary is needed to run the simulator apart (bench.Options.GreepBinary)")
	}
	cmd := exec.CommandContext(ctx, o.GreepBinary, "sim", "--addr", "127.0.0.1:0",
		"--users", strconv.Itoa(o.Users), "--groups", strconv.Itoa(o.Groups), "--seed", strconv.FormatInt(o.Seed, 10),
		"--time-scale", strconv.FormatFloat(o.TimeScale, 'g', -1, 64), "--quota-per-minute", "-1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting greep sim: %w", err)
	}
	p := &simProcess{cmd: cmd, done: make(chan struct{})}
	found := make(chan error, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		listening := false
		for !listening && sc.Scan() {
			listening = p.readLine(sc.Text())
		}
		if listening {
			found <- nil
		} else {
			found <- fmt.Errorf("greep sim ended before it listened: %v", sc.Err())
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case err = <-found:
	case <-time.After(5 * time.Minute): // generating the origin's tenant takes a while
		err = errors.New("greep sim did not listen within 5 minutes")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// readLine takes the admin subject and the URL from `greep sim`'s start-up lines and
// reports whether it has both.
func (p *simProcess) readLine(line string) bool {
	if _, rest, ok := strings.Cut(line, "admin subject "); ok {
		p.Subject, _, _ = strings.Cut(rest, ",")
	}
	if rest, ok := strings.CutPrefix(line, "listening on "); ok {
		p.URL = strings.TrimSpace(rest)
	}
	return p.URL != "" && p.Subject != ""
}

// stats reads the simulator's call counts.
func (p *simProcess) stats(ctx context.Context) (workspacesim.Stats, error) {
	var st workspacesim.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/sim/v1/stats", nil)
	if err != nil {
		return st, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return st, fmt.Errorf("simulator stats: %s", res.Status)
	}
	return st, json.NewDecoder(res.Body).Decode(&st)
}

func (p *simProcess) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	_ = p.cmd.Wait()
}
