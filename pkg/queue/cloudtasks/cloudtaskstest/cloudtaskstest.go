// Package cloudtaskstest is an in-process Cloud Tasks API for tests: the generated
// cloudtaskspb server with the few methods Greep calls, so the real cloudtasks client is
// what the tests exercise (no Cloud Tasks emulator exists to install).
package cloudtaskstest

import (
	"context"
	"net"
	"sync"
	"testing"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	beta "cloud.google.com/go/cloudtasks/apiv2beta3/cloudtaskspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Server is a Cloud Tasks API with queues and named tasks in memory that records the
// requests it gets. Its fields are safe to read once the requests under test returned.
type Server struct {
	cloudtaskspb.UnimplementedCloudTasksServer
	// Addr is the loopback address it serves on.
	Addr string

	Creates      []*cloudtaskspb.CreateTaskRequest
	Updates      []*cloudtaskspb.UpdateQueueRequest
	QueueCreates []*cloudtaskspb.CreateQueueRequest

	mu     sync.Mutex
	queues map[string]*cloudtaskspb.Queue
	tasks  map[string]*cloudtaskspb.Task
	stats  map[string]*beta.QueueStats // SetStats (stats.go)
}

// Start serves a Server on a loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{queues: map[string]*cloudtaskspb.Queue{}, tasks: map[string]*cloudtaskspb.Task{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = lis.Addr().String()
	gs := grpc.NewServer()
	cloudtaskspb.RegisterCloudTasksServer(gs, s)
	registerStats(gs, s)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return s
}

// Queue returns the stored queue called name (nil if none); change it only between
// requests.
func (s *Server) Queue(name string) *cloudtaskspb.Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queues[name]
}

func (s *Server) CreateTask(_ context.Context, r *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Creates = append(s.Creates, r)
	if _, ok := s.queues[r.Parent]; !ok {
		return nil, status.Errorf(codes.NotFound, "queue %s does not exist", r.Parent)
	}
	if n := r.Task.GetName(); n != "" {
		if _, dup := s.tasks[n]; dup {
			return nil, status.Errorf(codes.AlreadyExists, "task %s exists", n)
		}
		s.tasks[n] = r.Task
	}
	return r.Task, nil
}

func (s *Server) GetQueue(_ context.Context, r *cloudtaskspb.GetQueueRequest) (*cloudtaskspb.Queue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[r.Name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "queue %s not found", r.Name)
	}
	return proto.Clone(q).(*cloudtaskspb.Queue), nil
}

func (s *Server) CreateQueue(_ context.Context, r *cloudtaskspb.CreateQueueRequest) (*cloudtaskspb.Queue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.QueueCreates = append(s.QueueCreates, r)
	q := proto.Clone(r.Queue).(*cloudtaskspb.Queue)
	q.State = cloudtaskspb.Queue_RUNNING
	s.queues[q.Name] = q
	return q, nil
}

func (s *Server) UpdateQueue(_ context.Context, r *cloudtaskspb.UpdateQueueRequest) (*cloudtaskspb.Queue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Updates = append(s.Updates, r)
	q, ok := s.queues[r.Queue.Name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "queue %s not found", r.Queue.Name)
	}
	if q.RateLimits == nil {
		q.RateLimits = &cloudtaskspb.RateLimits{}
	}
	if q.RetryConfig == nil {
		q.RetryConfig = &cloudtaskspb.RetryConfig{}
	}
	for _, p := range r.UpdateMask.GetPaths() {
		switch p {
		case "rate_limits.max_dispatches_per_second":
			q.RateLimits.MaxDispatchesPerSecond = r.Queue.RateLimits.MaxDispatchesPerSecond
		case "rate_limits.max_concurrent_dispatches":
			q.RateLimits.MaxConcurrentDispatches = r.Queue.RateLimits.MaxConcurrentDispatches
		case "retry_config.max_attempts":
			q.RetryConfig.MaxAttempts = r.Queue.RetryConfig.MaxAttempts
		case "retry_config.min_backoff":
			q.RetryConfig.MinBackoff = r.Queue.RetryConfig.MinBackoff
		case "retry_config.max_backoff":
			q.RetryConfig.MaxBackoff = r.Queue.RetryConfig.MaxBackoff
		case "retry_config.max_doublings":
			q.RetryConfig.MaxDoublings = r.Queue.RetryConfig.MaxDoublings
		case "app_engine_routing_override":
			q.AppEngineRoutingOverride = r.Queue.AppEngineRoutingOverride
		default:
			return nil, status.Errorf(codes.InvalidArgument, "unknown field mask path %q", p)
		}
	}
	return q, nil
}
