package cloudtaskstest

import (
	"context"
	"slices"

	beta "cloud.google.com/go/cloudtasks/apiv2beta3/cloudtaskspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// statsServer is the v2beta3 API's GetQueue, the only Cloud Tasks call that returns a
// queue's stats, over the Server's queues.
type statsServer struct {
	beta.UnimplementedCloudTasksServer
	s *Server
}

func registerStats(gs *grpc.Server, s *Server) {
	beta.RegisterCloudTasksServer(gs, &statsServer{s: s})
}

// SetStats gives the queue called name the stats Cloud Tasks would compute for it.
func (s *Server) SetStats(name string, st *beta.QueueStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats == nil {
		s.stats = map[string]*beta.QueueStats{}
	}
	s.stats[name] = st
}

// GetQueue answers as Cloud Tasks does: stats only when the read mask names them.
func (b *statsServer) GetQueue(_ context.Context, r *beta.GetQueueRequest) (*beta.Queue, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if _, ok := b.s.queues[r.Name]; !ok {
		return nil, status.Errorf(codes.NotFound, "queue %s not found", r.Name)
	}
	q := &beta.Queue{Name: r.Name}
	if st, ok := b.s.stats[r.Name]; ok && slices.Contains(r.GetReadMask().GetPaths(), "stats") {
		q.Stats = proto.Clone(st).(*beta.QueueStats)
	}
	return q, nil
}
