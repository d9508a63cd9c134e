package cloudtasksemu

import (
	"context"
	"slices"
	"time"

	beta "cloud.google.com/go/cloudtasks/apiv2beta3/cloudtaskspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// betaServer is the v2beta3 API's GetQueue: only that version returns a queue's stats,
// which the api service reads for /v1/status (pkg/queue/cloudtasks QueueStats), so the
// cluster shows the same queue figures production does.
type betaServer struct {
	beta.UnimplementedCloudTasksServer
	e *Emulator
}

func registerBeta(gs *grpc.Server, e *Emulator) {
	beta.RegisterCloudTasksServer(gs, &betaServer{e: e})
}

// GetQueue answers as Cloud Tasks does: the stats only when the read mask names them.
func (b *betaServer) GetQueue(_ context.Context, r *beta.GetQueueRequest) (*beta.Queue, error) {
	e := b.e
	e.mu.Lock()
	defer e.mu.Unlock()
	q, ok := e.queues[r.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Queue does not exist: %s", r.GetName())
	}
	out := &beta.Queue{Name: r.GetName()}
	if slices.Contains(r.GetReadMask().GetPaths(), "stats") {
		out.Stats = q.betaStats(e.cfg.Now())
	}
	return out, nil
}

// noteAttempt records an attempt that ended at now; the caller holds e.mu.
func (q *queue) noteAttempt(now time.Time) {
	q.attempted = append(q.attempted, now)
	q.pruneAttempts(now)
}

// pruneAttempts forgets attempts older than a minute, so the record stays as small as
// the last minute's dispatches; the caller holds e.mu.
func (q *queue) pruneAttempts(now time.Time) {
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(q.attempted) && q.attempted[i].Before(cut) {
		i++
	}
	q.attempted = q.attempted[i:]
}

// betaStats computes a queue's stats as of now; the caller holds e.mu.
func (q *queue) betaStats(now time.Time) *beta.QueueStats {
	q.pruneAttempts(now)
	st := &beta.QueueStats{
		TasksCount:                int64(len(q.pending) + len(q.inFlight)),
		ExecutedLastMinuteCount:   int64(len(q.attempted)),
		ConcurrentDispatchesCount: int64(len(q.inFlight)),
		EffectiveExecutionRate:    q.pb.GetRateLimits().GetMaxDispatchesPerSecond(),
	}
	if len(q.pending) > 0 {
		// The pending heap's root is the task due first.
		st.OldestEstimatedArrivalTime = timestamppb.New(q.pending[0].eta)
	}
	return st
}
