package service_test

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/internal/freeport"
	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/service"
)

func parse(t *testing.T, args ...string) (service.Config, service.Google, error) {
	t.Helper()
	var c service.GoogleConfig
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Flags(fs)
	if err := service.Parse(fs, args); err != nil {
		return c.Config, c.Google, err
	}
	return c.Config, c.Google, c.Validate()
}

func TestFlagsDefaultFromTheEnvironment(t *testing.T) {
	for k, v := range map[string]string{
		"PORT": "9099", "GOOGLE_CLOUD_PROJECT": "proj", "GREEP_TASKS_LOCATION": "europe-west1",
		"GREEP_QUEUES": "q.yaml", "GREEP_LOG_LEVEL": "debug", "GAE_ENV": "standard",
		"GREEP_WORKSPACE": "", "GREEP_ADMIN_SUBJECT": "admin@example.com", "GREEP_SERVICE_ACCOUNT": "dwd@proj.iam.gserviceaccount.com",
	} {
		t.Setenv(k, v)
	}
	c, g, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	want := service.Config{
		Server:  service.Server{Addr: ":9099", Level: "debug", Human: false},
		History: service.History{Retention: 400 * 24 * time.Hour},
		Project: "proj", Location: "europe-west1", Queues: "q.yaml",
	}
	if c != want {
		t.Errorf("config %+v, want %+v", c, want)
	}
	if g != (service.Google{AdminSubject: "admin@example.com", ServiceAccount: "dwd@proj.iam.gserviceaccount.com"}) {
		t.Errorf("google %+v", g)
	}
	if !service.OnAppEngine() {
		t.Error("GAE_ENV=standard is App Engine")
	}

	// A flag wins over the environment (app.yaml's env_variables).
	c, _, err = parse(t, "--addr", "127.0.0.1:1", "--project", "other", "--log-level", "warn", "--human-logs")
	if err != nil || c.Addr != "127.0.0.1:1" || c.Project != "other" || c.Level != "warn" || !c.Human {
		t.Errorf("flags: %+v, %v", c, err)
	}
}

func TestDefaultsOffAppEngine(t *testing.T) {
	for _, k := range []string{"PORT", "GREEP_QUEUES", "GREEP_LOG_LEVEL", "GAE_ENV"} {
		t.Setenv(k, "")
	}
	c, _, _ := parse(t)
	if c.Addr != ":8080" || c.Queues != "queues.yaml" || c.Level != "info" || !c.Human {
		t.Errorf("defaults: %+v", c)
	}
	if service.OnAppEngine() {
		t.Error("no GAE_ENV is not App Engine")
	}
}

func TestBadConfigurations(t *testing.T) {
	for _, k := range []string{"GOOGLE_CLOUD_PROJECT", "GREEP_TASKS_LOCATION", "GREEP_ADMIN_SUBJECT", "GREEP_LOG_LEVEL"} {
		t.Setenv(k, "")
	}
	ok := []string{"--project", "p", "--location", "l", "--admin-subject", "a@x.com"}
	if _, _, err := parse(t, ok...); err != nil {
		t.Fatalf("good configuration refused: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--location", "l", "--admin-subject", "a@x.com"}, "--project"},
		{[]string{"--project", "p", "--admin-subject", "a@x.com"}, "--location"},
		{[]string{"--project", "p", "--location", "l"}, "--admin-subject"},
		{append(ok, "--log-level", "loud"), "--log-level"},
		{append(ok, "--history-retention", "0s"), "--history-retention"},
		{append(ok, "--history-retention", "-24h"), "--history-retention"},
		{append(ok, "extra"), "unexpected arguments"},
		{append(ok, "--nosuch"), "nosuch"},
	} {
		if _, _, err := parse(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one naming %s", c.args, err, c.want)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// On SIGTERM (ctx ending) Serve stops taking connections but lets a request in flight
// finish, then returns nil.
func TestServeStopsGracefully(t *testing.T) {
	addr := freeAddr(t)
	inside, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Bool // the request in flight was let through
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inside)
			<-release
			handled.Store(true)
		}
		_, _ = io.WriteString(w, "done "+r.URL.Path)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		err     error
		handled bool // whether the request in flight had been handled when Serve returned
	}
	served := make(chan result, 1)
	go func() {
		err := service.Server{Addr: addr}.Serve(ctx, h, zap.NewNop())
		served <- result{err, handled.Load()}
	}()

	get := func(path string) (string, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	wait.Until(t, 30*time.Second, func() error { _, err := get("/up"); return err })
	slow := make(chan string, 1)
	go func() { body, err := get("/slow"); slow <- body + errString(err) }()
	<-inside
	cancel()
	// Serve must not return while the request is in flight: released only now, however
	// late, it must have been handled by the time Serve returns.
	close(release)
	if body := <-slow; body != "done /slow" {
		t.Errorf("request in flight got %q", body)
	}
	r := <-served
	if r.err != nil {
		t.Errorf("Serve: %v", r.err)
	}
	if !r.handled {
		t.Error("Serve returned with a request in flight")
	}
	if _, err := get("/up"); err == nil {
		t.Error("still serving after the stop")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}

func TestServeFailsOnABusyAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = service.Server{Addr: l.Addr().String()}.Serve(context.Background(), http.NotFoundHandler(), zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("err = %v", err)
	}
}
