package cloudtasks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queueconfig"
)

// Lanes is the production half of work-conserving lanes (docs/quota.md). Cloud Tasks
// paces each queue on its own, so a sweep queue cannot borrow from the push queue of its
// window by itself; Lanes, run by cron every minute on the default service, sets each
// background queue's rate from the other queues' stats: a push queue with no task
// (scheduled ones included: a debounced refresh is visible a debounce before it is due)
// and none run in the last minute lends its rate to the sweeps of its window. The state
// lives in Cloud Tasks alone, so any instance may run it, and two runs at once write the
// same rates.
type Lanes struct {
	client *ctapi.Client
	stats  func(ctx context.Context) (map[string]greep.QueueStat, error)
	loc    Location
	cfg    *queueconfig.Config
	log    *zap.Logger
}

// NewLanes returns the controller of cfg's queues at loc: stats reads their stats
// (QueueStats.Stats), client sets their rates.
func NewLanes(client *ctapi.Client, stats func(ctx context.Context) (map[string]greep.QueueStat, error), loc Location, cfg *queueconfig.Config, log *zap.Logger) (*Lanes, error) {
	if err := loc.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Lanes{client: client, stats: stats, loc: loc, cfg: cfg, log: log}, nil
}

// RateChange is one queue's rate set by Adjust.
type RateChange struct {
	Queue    string
	From, To float64
}

// Adjust sets every background queue's rate to queueconfig's BorrowedRates for the
// queues' current stats. When the stats cannot be read every push queue counts as busy:
// the sweeps go back to their own shares, which never crowd push work out of the window.
// A queue not created yet (greep queues apply) is left alone.
func (c *Lanes) Adjust(ctx context.Context) ([]RateChange, error) {
	stats, statsErr := c.stats(ctx)
	busy := func(lane string) bool {
		s, ok := stats[lane]
		return statsErr != nil || !ok || s.Backlog > 0 || s.ExecutedLastMinute > 0
	}
	rates := c.cfg.BorrowedRates(busy)
	names := make([]string, 0, len(rates))
	for n := range rates {
		names = append(names, n)
	}
	sort.Strings(names)
	var changes []RateChange
	var errs []error
	if statsErr != nil {
		errs = append(errs, fmt.Errorf("cloudtasks: reading queue stats (sweeps set to their own shares): %w", statsErr))
	}
	for _, name := range names {
		ch, err := c.setRate(ctx, name, rates[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	return changes, errors.Join(errs...)
}

func (c *Lanes) setRate(ctx context.Context, lane string, rate float64) (*RateChange, error) {
	path := c.loc.QueuePath(lane)
	cur, err := c.client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: path})
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cloudtasks: reading queue %s: %w", lane, err)
	}
	from := cur.GetRateLimits().GetMaxDispatchesPerSecond()
	// Cloud Tasks keeps the rate as a double: compare at Diff's precision.
	if math.Abs(from-rate) < 1e-4 {
		return nil, nil
	}
	_, err = c.client.UpdateQueue(ctx, &cloudtaskspb.UpdateQueueRequest{
		Queue:      &cloudtaskspb.Queue{Name: path, RateLimits: &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: rate}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rate_limits.max_dispatches_per_second"}},
	})
	if err != nil {
		return nil, fmt.Errorf("cloudtasks: setting queue %s's rate to %.4g/s: %w", lane, rate, err)
	}
	return &RateChange{Queue: lane, From: from, To: rate}, nil
}

// ServeHTTP is the cron handler (mount it behind queue.OnlyCron): one Adjust, logged.
// A failure answers 500 so that cron retries it.
func (c *Lanes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	changes, err := c.Adjust(r.Context())
	for _, ch := range changes {
		c.log.Info("lanes: sweep queue rate set", zap.String("queue", ch.Queue), zap.Float64("from", ch.From), zap.Float64("to", ch.To))
	}
	if err != nil {
		c.log.Error("lanes: adjusting sweep queue rates", zap.Error(err))
		googleerror.WriteErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
