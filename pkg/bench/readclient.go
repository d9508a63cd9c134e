package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"time"
)

// A readClient loads one URL from conns keep-alive connections for d, each answer
// expected to be size bytes, and reports the throughput and latency it saw.
type readClient interface {
	name() string
	load(ctx context.Context, url, token string, conns int, d time.Duration, size int) (LoadFigures, error)
}

// goClient is the bench's own client: net/http, a worker per connection, each answer
// read to the end and checked by status and length only (decoding it would make the
// client, not the server, the bound).
type goClient struct{}

func (goClient) name() string { return "go" }

func (goClient) load(ctx context.Context, url, token string, conns int, d time.Duration, size int) (LoadFigures, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	return load(ctx, conns, d, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || n != int64(size) {
			return fmt.Errorf("%s: %s, %d bytes (want 200, %d bytes)", url, resp.Status, n, size)
		}
		return nil
	})
}

// wrkClient runs wrk (scripts/wrk.sh installs it): a C load generator that spends a
// fraction of the CPU per request that net/http's client does, so on a machine whose
// cores it shares with the server it leaves the server most of them. It checks
// statuses (non-2xx answers are errors), not sizes.
type wrkClient struct{ path string }

func (wrkClient) name() string { return "wrk" }

func (c wrkClient) load(ctx context.Context, url, token string, conns int, d time.Duration, _ int) (LoadFigures, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, c.path, "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs),
		"--latency", "-H", "Authorization: Bearer "+token, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return LoadFigures{}, fmt.Errorf("wrk: %v: %s", err, stderr.Bytes())
	}
	return parseWrk(out)
}

// newReadClient returns the client called name: "go" (or empty) or "wrk".
func newReadClient(name string) (readClient, error) {
	switch name {
	case "", "go":
		return goClient{}, nil
	case "wrk":
		path, err := exec.LookPath("wrk")
		if err != nil {
			return nil, fmt.Errorf("--read-client wrk: %w (scripts/wrk.sh installs it)", err)
		}
		return wrkClient{path: path}, nil
	}
	return nil, fmt.Errorf("--read-client %q: want go or wrk", name)
}
