package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The Datastore emulators the cluster can run.
const (
	// EmulatorDatastore is gcloud's legacy Datastore emulator, the default. It runs with
	// its data in memory: with its data on disk, the thread that writes it every few
	// seconds deadlocks the emulator under the cluster's writes (docs/cluster.md).
	EmulatorDatastore = "datastore"
	// EmulatorFirestore is the Firestore emulator in Datastore mode, the database a new
	// Cloud project gets. Its locking makes Greep's writes queue on the change log; the
	// full sync is several times slower on it (docs/cluster.md).
	EmulatorFirestore = "firestore"
)

// ErrNoEmulator is returned when the Datastore emulator is needed and gcloud is missing.
var ErrNoEmulator = errors.New("the Datastore emulator needs gcloud (gcloud components install cloud-datastore-emulator, or cloud-firestore-emulator for --emulator firestore)")

// datastoreEmulator is the Datastore emulator the cluster runs, strongly consistent, and
// keeping its data across a restart in an export: written at its shutdown, read back at
// its next start.
type datastoreEmulator struct {
	proc
	kind, gcloud, host, project string
	// exports holds the exports, one directory each.
	exports string
	// pids are the processes under gcloud once the emulator answered: its java process
	// leaves gcloud's process group and outlives gcloud, so it is stopped by its id.
	pids []int
}

func newDatastore(kind, dir, host, project string) (*datastoreEmulator, error) {
	if kind != EmulatorFirestore && kind != EmulatorDatastore {
		return nil, fmt.Errorf("cluster: emulator %q: want %s or %s", kind, EmulatorDatastore, EmulatorFirestore)
	}
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		return nil, ErrNoEmulator
	}
	d := &datastoreEmulator{kind: kind, gcloud: gcloud, host: host, project: project,
		exports: filepath.Join(dir, "datastore-exports"),
		proc:    proc{name: kind + " emulator", dir: dir, logPath: filepath.Join(dir, "datastore.log")}}
	// The Firestore emulator refuses to export into a directory that does not exist.
	return d, os.MkdirAll(d.exports, 0o700)
}

// argv is the command that starts the emulator, on the export last when there is one.
func (d *datastoreEmulator) argv(last string) []string {
	if d.kind == EmulatorDatastore {
		// --consistency=1.0: production's ancestor queries are strongly consistent, and
		// the emulator's default answers queries from deliberately stale indexes.
		// --no-store-on-disk: no writer thread, no deadlock; gcloud still wants a
		// --data-dir for the project it creates there.
		return []string{d.gcloud, "beta", "emulators", "datastore", "start", "--no-store-on-disk", "--consistency=1.0",
			"--data-dir=" + filepath.Join(d.dir, "datastore"), "--host-port=" + d.host, "--project=" + d.project}
	}
	// Always strongly consistent; it exports on /shutdown into a new directory under
	// --export-on-exit.
	argv := []string{d.gcloud, "emulators", "firestore", "start", "--database-mode=datastore-mode",
		"--host-port=" + d.host, "--export-on-exit=" + d.exports}
	if last != "" {
		argv = append(argv, "--import-data="+last)
	}
	return argv
}

// lastExport is the metadata file of the newest export ("" if none).
func (d *datastoreEmulator) lastExport() (string, error) {
	var last string
	var at time.Time
	err := filepath.WalkDir(d.exports, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".overall_export_metadata") {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if last == "" || fi.ModTime().After(at) {
			last, at = path, fi.ModTime()
		}
		return nil
	})
	return last, err
}

// run starts the emulator on the newest export and waits until it answers "Ok" (the JVM
// takes seconds) and holds the export's data.
func (d *datastoreEmulator) run(ctx context.Context, within time.Duration) error {
	last, err := d.lastExport()
	if err != nil {
		return err
	}
	d.proc.argv = d.argv(last)
	if err := d.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if done, err := d.exited(); done {
			return fmt.Errorf("the %s exited at start (%v):\n%s", d.name, err, tail(d.logPath, 30))
		}
		if res, err := client.Get("http://" + d.host + "/"); err == nil {
			var b [16]byte
			n, _ := res.Body.Read(b[:])
			res.Body.Close()
			if strings.HasPrefix(string(b[:n]), "Ok") {
				d.pids = descendants(d.cmd.Process.Pid)
				if d.kind == EmulatorDatastore && last != "" {
					return d.admin(ctx, "import", map[string]string{"input_url": last})
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("the %s did not answer within %s:\n%s", d.name, within, tail(d.logPath, 30))
		}
		select {
		case <-ctx.Done():
			d.kill()
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// restart stops the emulator, keeping its data in an export, and starts it again on the
// same address and data. A stop that wrote no export is an error, not an empty restart.
// Commits acknowledged after the export began are lost, which Datastore never does, so
// the scenarios restart it only while the queues are empty.
func (d *datastoreEmulator) restart(ctx context.Context, within time.Duration) error {
	before, err := d.lastExport()
	if err != nil {
		return err
	}
	if err := d.shutdown(2 * time.Minute); err != nil {
		return err
	}
	after, err := d.lastExport()
	if err != nil {
		return err
	}
	if after == "" || after == before {
		return fmt.Errorf("the %s wrote no export when stopped, so a restart would lose its data; the end of its log, %s:\n%s", d.name, d.logPath, tail(d.logPath, 30))
	}
	return d.run(ctx, within)
}

// shutdown exports the emulator's data and stops it: the legacy emulator through the
// Datastore Admin API's export, the Firestore one by itself on /shutdown; then the
// process group.
func (d *datastoreEmulator) shutdown(grace time.Duration) error {
	var err error
	if d.kind == EmulatorDatastore {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		// The prefix must not exist yet; the export goes into a directory below it.
		prefix := filepath.Join(d.exports, strconv.FormatInt(time.Now().UnixNano(), 10))
		err = d.admin(ctx, "export", map[string]string{"output_url_prefix": prefix})
		cancel()
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.host+"/shutdown", nil)
	if res, err := (&http.Client{Timeout: grace}).Do(req); err == nil {
		res.Body.Close()
	}
	// The java process exits by itself once its export is written; gcloud, its parent,
	// is then stopped with the group.
	deadline := time.Now().Add(grace)
	for _, pid := range d.pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	err = errors.Join(err, d.stop(grace, func(string, ...any) {}))
	for _, pid := range d.pids {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			err = errors.Join(err, fmt.Errorf("the %s's process %d did not stop within %s; killed", d.name, pid, grace))
		}
	}
	return err
}

// admin runs a Datastore Admin API export or import on the legacy emulator, which
// finishes it before answering.
func (d *datastoreEmulator) admin(ctx context.Context, op string, body map[string]string) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.host+"/v1/projects/"+d.project+":"+op, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the %s's %s: %w", d.name, op, err)
	}
	defer res.Body.Close()
	var o struct {
		Done  bool `json:"done"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err := json.Unmarshal(raw, &o); err != nil || res.StatusCode != http.StatusOK || o.Error != nil || !o.Done {
		return fmt.Errorf("the %s's %s failed (HTTP %d): %s", d.name, op, res.StatusCode, raw)
	}
	return nil
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
