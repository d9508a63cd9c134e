package local_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/service"
)

// TestSlowAndIdleConnectionsAreCut: greep local serves with production's timeouts
// (service.HTTPServer), so a client that sends its body slowly, or keeps a connection
// idle, is disconnected instead of holding a file descriptor for good. The timeouts are
// short here; the client waits far longer for the server to close.
func TestSlowAndIdleConnectionsAreCut(t *testing.T) {
	sim := startSim(t, 3)
	cfg := config(sim, t.TempDir())
	cfg.NoInitialSync = true
	cfg.Timeouts = service.Timeouts{ReadHeader: 300 * time.Millisecond, Read: 500 * time.Millisecond, Idle: 500 * time.Millisecond}
	app, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Kill() })
	addr := strings.TrimPrefix(app.URL, "http://")

	// closed reads until the server closes the connection, or fails after a wait far past
	// the timeouts.
	closed := func(name string, conn net.Conn, r io.Reader) {
		t.Helper()
		if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := io.Copy(io.Discard, r)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: the server held the connection open", name)
		}
	}

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// A body announced at 100 bytes, of which one is sent.
	fmt.Fprintf(slow, "POST /healthz HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\n{", addr)
	closed("slow body", slow, slow)

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(idle)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body) //nolint:errcheck // only the connection matters
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("healthz: %s, close=%v: want 200 on a kept-alive connection", res.Status, res.Close)
	}
	closed("idle keep-alive", idle, br)
}
