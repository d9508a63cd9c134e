package cloudtasks

import (
	"context"
	"fmt"
	"time"

	ctbeta "cloud.google.com/go/cloudtasks/apiv2beta3"
	"cloud.google.com/go/cloudtasks/apiv2beta3/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queueconfig"
)

// QueueStats reads the queues' figures for /v1/status. Only Cloud Tasks' v2beta3 API has
// them (GetQueue with a read mask naming "stats"), on the same queues the v2 client
// creates tasks on.
type QueueStats struct {
	client *ctbeta.Client
	loc    Location
	cfg    *queueconfig.Config
}

// NewQueueStats connects to Cloud Tasks at endpoint ("" is Google's; see NewClient) to
// read the stats of cfg's queues at loc. Close releases it.
func NewQueueStats(ctx context.Context, endpoint string, loc Location, cfg *queueconfig.Config) (*QueueStats, error) {
	if err := loc.Validate(); err != nil {
		return nil, err
	}
	c, err := ctbeta.NewClient(ctx, clientOptions(endpoint)...)
	if err != nil {
		return nil, fmt.Errorf("cloudtasks: stats client: %w", err)
	}
	return &QueueStats{client: c, loc: loc, cfg: cfg}, nil
}

// Close releases the connection.
func (s *QueueStats) Close() error { return s.client.Close() }

// Stats reads each queues.yaml queue's tasks waiting, the oldest one's arrival, the tasks
// run in the last minute and the effective rate. A queue not created yet (greep queues
// apply) is left out.
func (s *QueueStats) Stats(ctx context.Context) (map[string]greep.QueueStat, error) {
	out := map[string]greep.QueueStat{}
	for _, name := range s.cfg.LaneNames() {
		q, err := s.client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{
			Name:     s.loc.QueuePath(name),
			ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "stats"}},
		})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cloudtasks: reading the stats of queue %s: %w", name, err)
		}
		st := q.GetStats()
		var oldest time.Time
		if t := st.GetOldestEstimatedArrivalTime(); t != nil {
			oldest = t.AsTime()
		}
		out[name] = greep.QueueStat{
			RatePerSecond:      st.GetEffectiveExecutionRate(),
			Backlog:            st.GetTasksCount(),
			ExecutedLastMinute: st.GetExecutedLastMinuteCount(),
			Oldest:             oldest,
		}
	}
	return out, nil
}
