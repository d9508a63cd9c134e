// Package cloudtasks runs Greep's queues on Cloud Tasks: an Enqueuer that creates App
// Engine tasks routed to the service that owns the task's path, and Apply, which makes the
// Cloud Tasks queues match queues.yaml (rate, concurrency, retry policy, routing).
package cloudtasks

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queueconfig"
)

// Location is where the queues live: App Engine task queues must be in the app's region.
type Location struct {
	Project  string
	Location string
}

// QueuePath is the queue's resource name, projects/P/locations/L/queues/Q.
func (l Location) QueuePath(q string) string {
	return fmt.Sprintf("projects/%s/locations/%s/queues/%s", l.Project, l.Location, q)
}

func (l Location) parent() string {
	return fmt.Sprintf("projects/%s/locations/%s", l.Project, l.Location)
}

var (
	projectID  = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	locationID = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	taskName   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,500}$`)
)

// Validate refuses what Cloud Tasks would: a clear message here beats a gRPC
// InvalidArgument at the first enqueue.
func (l Location) Validate() error {
	if !projectID.MatchString(l.Project) {
		return greep.Errorf(greep.EINVALID, "project %q is not a Google Cloud project id", l.Project)
	}
	if !locationID.MatchString(l.Location) {
		return greep.Errorf(greep.EINVALID, "location %q is not a Cloud Tasks location (like us-central1)", l.Location)
	}
	return nil
}

// Enqueuer creates tasks on Cloud Tasks. It implements queue.Enqueuer.
type Enqueuer struct {
	client *ctapi.Client
	loc    Location
	cfg    *queueconfig.Config
}

// NewEnqueuer returns an Enqueuer of the queues of cfg at loc.
func NewEnqueuer(client *ctapi.Client, loc Location, cfg *queueconfig.Config) (*Enqueuer, error) {
	if err := loc.Validate(); err != nil {
		return nil, err
	}
	return &Enqueuer{client: client, loc: loc, cfg: cfg}, nil
}

// Enqueue creates t as an App Engine task routed to its lane's service. A named task
// that exists, or ran recently, makes Cloud Tasks answer ALREADY_EXISTS: that is the
// de-duplication working, so Enqueue returns nil.
func (e *Enqueuer) Enqueue(ctx context.Context, t queue.Task) error {
	req, err := e.request(t)
	if err != nil {
		return err
	}
	if _, err := e.client.CreateTask(ctx, req); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		return fmt.Errorf("cloudtasks: creating task %s on %s: %w", orUnnamed(t.Name), t.Queue, err)
	}
	return nil
}

func orUnnamed(name string) string {
	if name == "" {
		return "(unnamed)"
	}
	return name
}

// request builds the CreateTask request of t (pure, so it is tested without a server).
func (e *Enqueuer) request(t queue.Task) (*cloudtaskspb.CreateTaskRequest, error) {
	l, ok := e.cfg.Lane(t.Queue)
	if !ok {
		return nil, greep.Errorf(greep.EINVALID, "queue %q is not declared in queues.yaml", t.Queue)
	}
	if !strings.HasPrefix(t.Path, l.PathPrefix) {
		return nil, greep.Errorf(greep.EINVALID, "task path %q is not under queue %s's prefix %s (service %s)", t.Path, t.Queue, l.PathPrefix, l.Service)
	}
	if t.Name != "" && !taskName.MatchString(t.Name) {
		return nil, greep.Errorf(greep.EINVALID, "task name %q: use 1-500 letters, digits, '-' and '_'", t.Name)
	}
	parent := e.loc.QueuePath(t.Queue)
	task := &cloudtaskspb.Task{
		MessageType: &cloudtaskspb.Task_AppEngineHttpRequest{AppEngineHttpRequest: &cloudtaskspb.AppEngineHttpRequest{
			HttpMethod: cloudtaskspb.HttpMethod_POST,
			// The queue's routing override sends every task to the service too; naming it
			// on the task keeps a task right even on a queue created by hand.
			AppEngineRouting: &cloudtaskspb.AppEngineRouting{Service: l.Service},
			RelativeUri:      t.Path,
			Headers:          map[string]string{"Content-Type": "application/json"},
			Body:             t.Body,
		}},
	}
	if t.Name != "" {
		task.Name = parent + "/tasks/" + t.Name
	}
	if !t.ScheduleTime.IsZero() {
		task.ScheduleTime = timestamppb.New(t.ScheduleTime)
	}
	return &cloudtaskspb.CreateTaskRequest{Parent: parent, Task: task}, nil
}

// NewClient returns a Cloud Tasks client: Google's, with Application Default Credentials,
// or, when endpoint is set, one that talks plain gRPC without credentials to that
// address (a test server on loopback; never a real endpoint).
func NewClient(ctx context.Context, endpoint string) (*ctapi.Client, error) {
	c, err := ctapi.NewClient(ctx, clientOptions(endpoint)...)
	if err != nil {
		return nil, fmt.Errorf("cloudtasks: client: %w", err)
	}
	return c, nil
}

// clientOptions are a client's options for endpoint ("" is Google's).
func clientOptions(endpoint string) []option.ClientOption {
	if endpoint == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(endpoint),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

var _ queue.Enqueuer = (*Enqueuer)(nil)
