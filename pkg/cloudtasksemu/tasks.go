package cloudtasksemu

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var taskID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,500}$`)

// Limits Cloud Tasks sets on a task.
const (
	maxScheduleAhead = 30 * 24 * time.Hour
	maxTaskSize      = 1 << 20
	maxURILength     = 2083
	// App Engine standard's default dispatch deadline with automatic scaling.
	defaultDeadline = 10 * time.Minute
	minDeadline     = 15 * time.Second
	maxDeadline     = 24*time.Hour + 15*time.Second
)

// validateTask refuses what Cloud Tasks refuses of an App Engine task.
func validateTask(parent string, t *cloudtaskspb.Task) error {
	req := t.GetAppEngineHttpRequest()
	if req == nil {
		return status.Error(codes.InvalidArgument, "only App Engine HTTP tasks (app_engine_http_request) are emulated")
	}
	if !strings.HasPrefix(req.RelativeUri, "/") || len(req.RelativeUri) > maxURILength {
		return status.Errorf(codes.InvalidArgument, "relative_uri %q: must start with / and be at most %d characters", req.RelativeUri, maxURILength)
	}
	for h := range req.Headers {
		l := strings.ToLower(h)
		if l == "host" || strings.HasPrefix(l, "x-google-") || strings.HasPrefix(l, "x-appengine-") {
			return status.Errorf(codes.InvalidArgument, "header %q cannot be set on a task", h)
		}
	}
	if len(req.Body) > 0 && req.HttpMethod != cloudtaskspb.HttpMethod_POST && req.HttpMethod != cloudtaskspb.HttpMethod_PUT && req.HttpMethod != cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED {
		return status.Errorf(codes.InvalidArgument, "a body needs POST or PUT, not %v", req.HttpMethod)
	}
	if proto.Size(t) > maxTaskSize {
		return status.Errorf(codes.InvalidArgument, "task of %d bytes: at most %d", proto.Size(t), maxTaskSize)
	}
	if n := t.GetName(); n != "" {
		id, ok := strings.CutPrefix(n, parent+"/tasks/")
		if !ok || !taskID.MatchString(id) {
			return status.Errorf(codes.InvalidArgument, "task name %q: want %s/tasks/ID (ID: 1-500 letters, digits, - and _)", n, parent)
		}
	}
	if d := t.GetDispatchDeadline(); d != nil && (d.AsDuration() < minDeadline || d.AsDuration() > maxDeadline) {
		return status.Errorf(codes.InvalidArgument, "dispatch_deadline %v: between %v and %v", d.AsDuration(), minDeadline, maxDeadline)
	}
	return nil
}

// CreateTask queues an App Engine HTTP task. A named task whose name was used before on
// this emulator, even by a task that ran, is refused with ALREADY_EXISTS: Cloud Tasks
// keeps the names of executed tasks reserved for a day or more, longer than a cluster
// runs.
func (e *Emulator) CreateTask(_ context.Context, r *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	if err := validateTask(r.GetParent(), r.GetTask()); err != nil {
		return nil, err
	}
	now := e.cfg.Now()
	eta := now
	if st := r.Task.GetScheduleTime(); st != nil {
		if err := st.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "schedule_time: %v", err)
		}
		if st.AsTime().After(now.Add(maxScheduleAhead)) {
			return nil, status.Errorf(codes.InvalidArgument, "schedule_time %v is more than 30 days ahead", st.AsTime())
		}
		if st.AsTime().After(now) {
			eta = st.AsTime()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(r.Parent)
	if err != nil {
		return nil, err
	}
	pb := proto.Clone(r.Task).(*cloudtaskspb.Task)
	e.seq++
	if pb.Name == "" {
		pb.Name = fmt.Sprintf("%s/tasks/%d", r.Parent, e.seq)
	}
	if e.names[pb.Name] {
		return nil, status.Errorf(codes.AlreadyExists, "task %s exists or ran recently", pb.Name)
	}
	e.names[pb.Name] = true
	pb.ScheduleTime = timestamppb.New(eta)
	pb.CreateTime = timestamppb.New(now)
	if pb.DispatchDeadline == nil {
		pb.DispatchDeadline = durationpb.New(defaultDeadline)
	}
	if pb.GetAppEngineHttpRequest().HttpMethod == cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED {
		pb.GetAppEngineHttpRequest().HttpMethod = cloudtaskspb.HttpMethod_POST
	}
	q.add(&task{pb: pb, eta: eta, seq: e.seq})
	return view(pb, r.GetResponseView()), nil
}

// view is what the API returns of a task: without its body unless FULL was asked for.
func view(t *cloudtaskspb.Task, v cloudtaskspb.Task_View) *cloudtaskspb.Task {
	out := proto.Clone(t).(*cloudtaskspb.Task)
	if v != cloudtaskspb.Task_FULL {
		out.GetAppEngineHttpRequest().Body = nil
	}
	return out
}

// queueOf is the queue name a task name is under.
func queueOf(task string) string {
	q, _, _ := strings.Cut(task, "/tasks/")
	return q
}

func (e *Emulator) GetTask(_ context.Context, r *cloudtaskspb.GetTaskRequest) (*cloudtaskspb.Task, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(queueOf(r.GetName()))
	if err != nil {
		return nil, err
	}
	t := q.find(r.Name)
	if t == nil {
		return nil, status.Errorf(codes.NotFound, "task %s is not queued", r.Name)
	}
	return view(t.snapshot(), r.ResponseView), nil
}

// ListTasks lists the queue's tasks, those in flight included, in name order.
func (e *Emulator) ListTasks(_ context.Context, r *cloudtaskspb.ListTasksRequest) (*cloudtaskspb.ListTasksResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(r.GetParent())
	if err != nil {
		return nil, err
	}
	all := q.all()
	sort.Slice(all, func(i, j int) bool { return all[i].pb.Name < all[j].pb.Name })
	size := int(r.PageSize)
	if size <= 0 || size > 1000 {
		size = 1000
	}
	out := &cloudtaskspb.ListTasksResponse{}
	for _, t := range all {
		if t.pb.Name <= r.PageToken {
			continue
		}
		if len(out.Tasks) == size {
			out.NextPageToken = out.Tasks[size-1].Name
			break
		}
		out.Tasks = append(out.Tasks, view(t.snapshot(), r.ResponseView))
	}
	return out, nil
}

// DeleteTask removes a queued task (one in flight finishes its attempt and is not
// retried); its name stays taken.
func (e *Emulator) DeleteTask(_ context.Context, r *cloudtaskspb.DeleteTaskRequest) (*emptypb.Empty, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(queueOf(r.GetName()))
	if err != nil {
		return nil, err
	}
	if !q.remove(r.Name) {
		return nil, status.Errorf(codes.NotFound, "task %s is not queued", r.Name)
	}
	return &emptypb.Empty{}, nil
}
