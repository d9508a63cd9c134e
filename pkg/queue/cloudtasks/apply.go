package cloudtasks

import (
	"context"
	"fmt"
	"math"

	ctapi "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/greephq/greep/pkg/queueconfig"
)

// Desired is the Cloud Tasks queue a lane should be: its derived rate, concurrency,
// retry policy and the routing of every task to the lane's service.
func Desired(loc Location, l *queueconfig.Lane) *cloudtaskspb.Queue {
	r := l.RetryPolicy()
	return &cloudtaskspb.Queue{
		Name:                     loc.QueuePath(l.Name),
		AppEngineRoutingOverride: &cloudtaskspb.AppEngineRouting{Service: l.Service},
		RateLimits: &cloudtaskspb.RateLimits{
			MaxDispatchesPerSecond:  l.RatePerSecond(),
			MaxConcurrentDispatches: int32(l.Concurrency),
		},
		RetryConfig: &cloudtaskspb.RetryConfig{
			MaxAttempts:  int32(r.MaxAttempts),
			MinBackoff:   durationpb.New(r.MinBackoff),
			MaxBackoff:   durationpb.New(r.MaxBackoff),
			MaxDoublings: int32(r.MaxDoublings),
		},
	}
}

// Change is one field of a queue that differs from queues.yaml.
type Change struct {
	Field    string // the update-mask path
	From, To string
}

// field compares one setting: its mask path and how to read it as text.
type field struct {
	path string
	get  func(*cloudtaskspb.Queue) string
}

var fields = []field{
	{"rate_limits.max_dispatches_per_second", func(q *cloudtaskspb.Queue) string {
		// Cloud Tasks stores the rate as a double; compare at a precision no quota needs
		// more of, so float noise never shows as a change.
		return fmt.Sprintf("%.4g/s", math.Round(q.GetRateLimits().GetMaxDispatchesPerSecond()*1e4)/1e4)
	}},
	{"rate_limits.max_concurrent_dispatches", func(q *cloudtaskspb.Queue) string {
		return fmt.Sprint(q.GetRateLimits().GetMaxConcurrentDispatches())
	}},
	{"retry_config.max_attempts", func(q *cloudtaskspb.Queue) string {
		return fmt.Sprint(q.GetRetryConfig().GetMaxAttempts())
	}},
	{"retry_config.min_backoff", func(q *cloudtaskspb.Queue) string {
		return q.GetRetryConfig().GetMinBackoff().AsDuration().String()
	}},
	{"retry_config.max_backoff", func(q *cloudtaskspb.Queue) string {
		return q.GetRetryConfig().GetMaxBackoff().AsDuration().String()
	}},
	{"retry_config.max_doublings", func(q *cloudtaskspb.Queue) string {
		return fmt.Sprint(q.GetRetryConfig().GetMaxDoublings())
	}},
	{"app_engine_routing_override", func(q *cloudtaskspb.Queue) string {
		if s := q.GetAppEngineRoutingOverride().GetService(); s != "" {
			return "service " + s
		}
		return "none"
	}},
}

// Diff lists what must change for current to become desired.
func Diff(current, desired *cloudtaskspb.Queue) []Change {
	var out []Change
	for _, f := range fields {
		if from, to := f.get(current), f.get(desired); from != to {
			out = append(out, Change{Field: f.path, From: from, To: to})
		}
	}
	return out
}

// Result is what Apply did (or, dry, would do) to one queue.
type Result struct {
	Queue   string
	Created bool
	Changes []Change // for a created queue: every setting, From empty
	// State is the queue's state when it is not RUNNING (PAUSED, DISABLED): Apply leaves
	// that to ops, who paused it for a reason, but says so.
	State string
}

// Apply makes every lane's Cloud Tasks queue match cfg: creates missing queues, updates
// the fields that differ, and with dryRun only reads and reports.
func Apply(ctx context.Context, client *ctapi.Client, loc Location, cfg *queueconfig.Config, dryRun bool) ([]Result, error) {
	if err := loc.Validate(); err != nil {
		return nil, err
	}
	var out []Result
	for _, name := range cfg.LaneNames() {
		want := Desired(loc, cfg.Lanes[name])
		cur, err := client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: want.Name})
		switch {
		case status.Code(err) == codes.NotFound:
			res := Result{Queue: name, Created: true, Changes: Diff(&cloudtaskspb.Queue{}, want)}
			for i := range res.Changes {
				res.Changes[i].From = ""
			}
			if !dryRun {
				if _, err := client.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: loc.parent(), Queue: want}); err != nil {
					return out, fmt.Errorf("cloudtasks: creating queue %s: %w", name, err)
				}
			}
			out = append(out, res)
			continue
		case err != nil:
			return out, fmt.Errorf("cloudtasks: reading queue %s: %w", name, err)
		}
		lendable(cfg.Lanes[name], cur, want)
		res := Result{Queue: name, Changes: Diff(cur, want)}
		if st := cur.GetState(); st != cloudtaskspb.Queue_RUNNING && st != cloudtaskspb.Queue_STATE_UNSPECIFIED {
			res.State = st.String()
		}
		if len(res.Changes) > 0 && !dryRun {
			mask := &fieldmaskpb.FieldMask{}
			for _, c := range res.Changes {
				mask.Paths = append(mask.Paths, c.Field)
			}
			if _, err := client.UpdateQueue(ctx, &cloudtaskspb.UpdateQueueRequest{Queue: want, UpdateMask: mask}); err != nil {
				return out, fmt.Errorf("cloudtasks: updating queue %s: %w", name, err)
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// lendable keeps a background queue's current rate when it lies between the lane's own
// rate and its ceiling: the lanes controller (Lanes) set it there, lending the sweep what
// push work leaves, and Apply is not to undo that.
func lendable(l *queueconfig.Lane, cur, want *cloudtaskspb.Queue) {
	r := cur.GetRateLimits().GetMaxDispatchesPerSecond()
	if l.Background && r >= l.RatePerSecond()-1e-4 && r <= l.CeilingPerSecond()+1e-4 {
		want.RateLimits.MaxDispatchesPerSecond = r
	}
}
