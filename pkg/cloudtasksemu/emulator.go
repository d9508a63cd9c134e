// Package cloudtasksemu is the project's Cloud Tasks emulator: a gRPC server of the Cloud
// Tasks v2 API (queues and tasks, named-task de-duplication, schedule time) that
// dispatches App Engine HTTP tasks as HTTP requests to the target service, with the
// headers App Engine sets, at each queue's rate (a token bucket), concurrency and retry
// policy. Google ships no Cloud Tasks emulator; greep cluster and the tests drive this one
// with the real cloud.google.com/go/cloudtasks client.
package cloudtasksemu

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc"
)

// Config says where tasks go and how they are delivered.
type Config struct {
	// Target is the base URL (http://HOST:PORT) of an App Engine service; a service it does
	// not know makes the attempt fail, and the task is retried as App Engine would retry
	// one whose instance does not answer.
	Target func(service string) (baseURL string, ok bool)
	// DeliverTwice delivers every task a second time after its first successful attempt,
	// with the same headers: Cloud Tasks delivers at least once, and this is the "at least".
	DeliverTwice bool
	// Client sends the tasks (a client with no timeout of its own when nil: each attempt
	// is bounded by the task's dispatch deadline).
	Client *http.Client
	// Now is the emulator's clock (time.Now when nil): schedule times, backoffs and the
	// token buckets follow it; waits are on the wall clock.
	Now func() time.Time
	// Logf, when set, is told of failed attempts and dropped tasks.
	Logf func(format string, args ...any)
}

// Emulator is a running Cloud Tasks API. Its methods are safe for concurrent use.
type Emulator struct {
	cloudtaskspb.UnimplementedCloudTasksServer
	cfg Config

	mu     sync.Mutex
	queues map[string]*queue // by full name
	names  map[string]bool   // every task name ever created: de-duplication
	seq    int64             // generated task ids and FIFO order
	stop   chan struct{}     // closed by Close: ends every queue's loop
	loops  sync.WaitGroup    // the queues' loops and their dispatches
	gs     *grpc.Server
	lis    net.Listener
}

// New returns an Emulator with cfg's defaults filled in; Serve or Listen runs it.
func New(cfg Config) *Emulator {
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			// App Engine does not follow a task handler's redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Target == nil {
		cfg.Target = func(string) (string, bool) { return "", false }
	}
	return &Emulator{cfg: cfg, queues: map[string]*queue{}, names: map[string]bool{}, stop: make(chan struct{})}
}

// Listen serves the API on addr (HOST:PORT; port 0 picks a free one) until Close and
// returns the address it listens on.
func (e *Emulator) Listen(addr string) (string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("cloudtasksemu: %w", err)
	}
	e.lis = lis
	e.gs = grpc.NewServer()
	cloudtaskspb.RegisterCloudTasksServer(e.gs, e)
	registerBeta(e.gs, e)
	go func() { _ = e.gs.Serve(lis) }()
	return lis.Addr().String(), nil
}

// Close stops serving, ends the queues' loops, cancels the attempts in flight (their
// tasks are lost with the emulator, as everything it holds is) and waits for them.
func (e *Emulator) Close() {
	if e.gs != nil {
		e.gs.Stop()
	}
	e.mu.Lock()
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
	e.mu.Unlock()
	e.loops.Wait()
}

var _ cloudtaskspb.CloudTasksServer = (*Emulator)(nil)
