package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queue/cloudtasks/cloudtaskstest"
	"github.com/greephq/greep/pkg/service"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/workspacesim"
)

// A bad queues file stops a service before it connects anywhere.
func TestOpenRefusesABadQueuesFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "queues.yaml")
	if err := os.WriteFile(bad, []byte("lanes:\n  directory: {rate: fast}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.yaml"), bad} {
		_, err := service.Open(context.Background(), service.Config{Project: "p", Location: "l", Queues: path}, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v", path, err)
		}
	}
}

// With the Datastore emulator (make test starts one), Open connects the real store and
// the real Cloud Tasks client (to an in-process Cloud Tasks API), and the Google clients
// it builds spend the task's one-call budget and the daily quota kept in the store.
func TestOpenOnTheEmulator(t *testing.T) {
	if os.Getenv("DATASTORE_EMULATOR_HOST") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true needs the Datastore emulator (make test starts it)")
		}
		t.Skip("DATASTORE_EMULATOR_HOST not set")
	}
	ctx := context.Background()
	ct := cloudtaskstest.Start(t)
	project := os.Getenv("DATASTORE_PROJECT_ID")
	if project == "" {
		project = "greep-test"
	}
	b, err := service.Open(ctx, service.Config{Project: project, Location: "us-central1", Queues: "../../queues.yaml", TasksEndpoint: ct.Addr}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The queues exist before any service runs: greep queues apply creates them.
	admin, err := cloudtasks.NewClient(ctx, ct.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := cloudtasks.Apply(ctx, admin, cloudtasks.Location{Project: project, Location: "us-central1"}, b.Queues, false); err != nil {
		t.Fatal(err)
	}

	task, err := tasks.New(tasks.QueueDirectory, tasks.PathDirectoryRefresh, "", map[string]string{"group": "g"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Queue.Enqueue(ctx, task); err != nil {
		t.Fatal(err)
	}
	if len(ct.Creates) != 1 || !strings.HasSuffix(ct.Creates[0].Parent, "/queues/"+tasks.QueueDirectory) ||
		!strings.Contains(ct.Creates[0].Parent, "projects/"+project+"/locations/us-central1") {
		t.Fatalf("Cloud Tasks got %v", ct.Creates)
	}

	sim, err := workspacesim.Start(workspacesim.Config{Users: 5, Groups: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if err := b.ConnectGoogle(ctx, service.Google{Workspace: sim.URL, AdminSubject: sim.Sim.Admin()}.Config()); err != nil {
		t.Fatal(err)
	}
	clients := b.Google
	before, err := b.Quota.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inTask := queue.WithInfo(ctx, queue.Info{Queue: tasks.QueueDirectory, Name: "t1"})
	// A task without its budget may not reach Google.
	if _, err := clients.Directory.Groups.List().Customer("my_customer").Context(inTask).Do(); !errors.Is(err, callbudget.ErrNoBudget) {
		t.Fatalf("a task's call without a budget: %v", err)
	}
	// A task's one call goes through and is counted against the day's quota.
	task1 := callbudget.WithBudget(inTask, callbudget.PerTaskCalls)
	if _, err := clients.Directory.Groups.List().Customer("my_customer").Context(task1).Do(); err != nil {
		t.Fatalf("the task's call: %v", err)
	}
	if _, err := clients.Directory.Groups.List().Customer("my_customer").Context(task1).Do(); !errors.Is(err, callbudget.ErrExceeded) {
		t.Fatalf("a second call in one task: %v", err)
	}
	after, err := b.Quota.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var grew bool
	for api, u := range after {
		if u.UsedToday > before[api].UsedToday {
			grew = true
		}
	}
	if !grew {
		t.Errorf("quota usage did not grow: %+v -> %+v", before, after)
	}
}

func TestRunStopsBeforeBuildingOnABadBackend(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "queues.yaml")
	c := service.Config{Server: service.Server{Addr: "127.0.0.1:0", Level: "error"}, Project: "p", Location: "l", Queues: missing}
	err := service.Run(context.Background(), "test", c, func(context.Context, *wiring.Runtime) (*wiring.Service, error) {
		t.Error("the handler was built without a backend")
		return nil, errors.New("unreachable")
	})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("err = %v", err)
	}
}

// With the emulator, Run serves the handler built on the opened backend until ctx ends.
func TestRunOnTheEmulator(t *testing.T) {
	if os.Getenv("DATASTORE_EMULATOR_HOST") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true needs the Datastore emulator (make test starts it)")
		}
		t.Skip("DATASTORE_EMULATOR_HOST not set")
	}
	addr := freeAddr(t)
	c := service.Config{Server: service.Server{Addr: addr, Level: "error"}, Project: "greep-test", Location: "us-central1",
		Queues: "../../queues.yaml", TasksEndpoint: cloudtaskstest.Start(t).Addr}
	if p := os.Getenv("DATASTORE_PROJECT_ID"); p != "" {
		c.Project = p
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, "test", c, func(_ context.Context, b *wiring.Runtime) (*wiring.Service, error) {
			return &wiring.Service{Name: "test", Routes: []string{"/"}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, err := b.Store.AddCount(r.Context(), "service-test/hits", 1)
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				fmt.Fprint(w, n)
			})}, nil
		})
	}()
	var body string
	for range 200 {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			body = string(b)
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run: %v", err)
		case <-time.After(25 * time.Millisecond):
		}
	}
	if n, err := strconv.Atoi(body); err != nil || n < 1 {
		t.Fatalf("the handler did not count in Datastore: %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
