package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrNoEmulator is returned when the Datastore emulator is needed and gcloud is missing.
var ErrNoEmulator = errors.New("the Datastore emulator needs gcloud (gcloud components install cloud-datastore-emulator)")

// datastoreEmulator is the Datastore emulator the cluster runs: gcloud's, strongly
// consistent, keeping its data on disk so that a restart finds it again.
type datastoreEmulator struct {
	proc
	host string
	// pids are the processes under gcloud once the emulator answered: its java process
	// leaves gcloud's process group and outlives gcloud, so it is stopped by its id.
	pids []int
}

func newDatastore(dir, host, project string) (*datastoreEmulator, error) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		return nil, ErrNoEmulator
	}
	return &datastoreEmulator{host: host, proc: proc{
		name: "datastore emulator",
		// --consistency=1.0: production's ancestor queries are strongly consistent, and
		// the emulator's default answers queries from deliberately stale indexes.
		argv: []string{gcloud, "beta", "emulators", "datastore", "start", "--consistency=1.0",
			"--data-dir=" + filepath.Join(dir, "datastore"), "--host-port=" + host, "--project=" + project},
		dir:     dir,
		logPath: filepath.Join(dir, "datastore.log"),
	}}, nil
}

// run starts the emulator and waits until it answers "Ok" (the JVM takes seconds).
func (d *datastoreEmulator) run(ctx context.Context, within time.Duration) error {
	if err := d.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if done, err := d.exited(); done {
			return fmt.Errorf("the Datastore emulator exited at start (%v):\n%s", err, tail(d.logPath, 30))
		}
		if res, err := client.Get("http://" + d.host + "/"); err == nil {
			var b [16]byte
			n, _ := res.Body.Read(b[:])
			res.Body.Close()
			if strings.HasPrefix(string(b[:n]), "Ok") {
				d.pids = descendants(d.cmd.Process.Pid)
				return nil
			}
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("the Datastore emulator did not answer within %s:\n%s", within, tail(d.logPath, 30))
		}
		select {
		case <-ctx.Done():
			d.kill()
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// shutdown stops the emulator the way that keeps its data: its own /shutdown, which
// writes the store to disk, then the process group.
func (d *datastoreEmulator) shutdown(grace time.Duration) error {
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.host+"/shutdown", nil)
	if res, err := (&http.Client{Timeout: grace}).Do(req); err == nil {
		res.Body.Close()
	}
	err := d.stop(grace, func(string, ...any) {})
	deadline := time.Now().Add(grace)
	for _, pid := range d.pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			err = errors.Join(err, fmt.Errorf("the Datastore emulator's process %d did not stop within %s; killed", pid, grace))
		}
	}
	return err
}

// alive reports whether process pid still exists (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// waitPersisted waits until the emulator wrote its data file after since, or within
// passed.
func (d *datastoreEmulator) waitPersisted(ctx context.Context, since time.Time, within time.Duration) {
	file := filepath.Join(d.dir, "datastore", "WEB-INF", "appengine-generated", "local_db.bin")
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if fi, err := os.Stat(file); err == nil && fi.ModTime().After(since) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
