package cloudtasksemu

import (
	"context"
	"math"
	"regexp"
	"sort"
	"strings"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

var (
	parentName = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+$`)
	queueName  = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]{1,100}$`)
)

// Defaults of a queue created through the API without them, as Cloud Tasks reports them.
const (
	defaultRate        = 500
	defaultConcurrency = 1000
	defaultMaxAttempts = 100
	defaultMaxDoubling = 16
)

// withDefaults fills what Cloud Tasks fills in a queue: unset limits get the API's
// defaults and max_burst_size, output only in v2, is chosen from the rate.
func withDefaults(q *cloudtaskspb.Queue) {
	if q.RateLimits == nil {
		q.RateLimits = &cloudtaskspb.RateLimits{}
	}
	r := q.RateLimits
	if r.MaxDispatchesPerSecond <= 0 {
		r.MaxDispatchesPerSecond = defaultRate
	}
	if r.MaxConcurrentDispatches <= 0 {
		r.MaxConcurrentDispatches = defaultConcurrency
	}
	r.MaxBurstSize = burstFor(r.MaxDispatchesPerSecond)
	if q.RetryConfig == nil {
		q.RetryConfig = &cloudtaskspb.RetryConfig{}
	}
	c := q.RetryConfig
	if c.MaxAttempts == 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.MinBackoff == nil {
		c.MinBackoff = durationpb.New(100e6)
	}
	if c.MaxBackoff == nil {
		c.MaxBackoff = durationpb.New(3600e9)
	}
	if c.MaxDoublings == 0 {
		c.MaxDoublings = defaultMaxDoubling
	}
	if q.State == cloudtaskspb.Queue_STATE_UNSPECIFIED {
		q.State = cloudtaskspb.Queue_RUNNING
	}
}

// burstFor is the bucket size Cloud Tasks picks for a rate: API-created queues at the
// default 500/s report 100, so a fifth of a second's dispatches, and never less than one.
func burstFor(rate float64) int32 {
	return int32(max(1, min(500, math.Ceil(rate/5))))
}

func validateQueue(q *cloudtaskspb.Queue) error {
	if !queueName.MatchString(q.GetName()) {
		return status.Errorf(codes.InvalidArgument, "queue name %q: want projects/P/locations/L/queues/Q (Q: letters, digits, hyphens, at most 100)", q.GetName())
	}
	if r := q.GetRateLimits(); r != nil {
		if r.MaxDispatchesPerSecond > 500 {
			return status.Errorf(codes.InvalidArgument, "max_dispatches_per_second %g: at most 500", r.MaxDispatchesPerSecond)
		}
		if r.MaxConcurrentDispatches > 5000 {
			return status.Errorf(codes.InvalidArgument, "max_concurrent_dispatches %d: at most 5000", r.MaxConcurrentDispatches)
		}
	}
	if c := q.GetRetryConfig(); c != nil {
		if c.MaxAttempts < -1 {
			return status.Errorf(codes.InvalidArgument, "max_attempts %d: -1 (unlimited) or more", c.MaxAttempts)
		}
		if c.MinBackoff != nil && c.MaxBackoff != nil && c.MinBackoff.AsDuration() > c.MaxBackoff.AsDuration() {
			return status.Errorf(codes.InvalidArgument, "min_backoff %v is longer than max_backoff %v", c.MinBackoff.AsDuration(), c.MaxBackoff.AsDuration())
		}
	}
	return nil
}

// lookup returns the queue called name; the caller holds e.mu.
func (e *Emulator) lookup(name string) (*queue, error) {
	q, ok := e.queues[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "queue %s does not exist", name)
	}
	return q, nil
}

func (e *Emulator) CreateQueue(_ context.Context, r *cloudtaskspb.CreateQueueRequest) (*cloudtaskspb.Queue, error) {
	if !parentName.MatchString(r.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "parent %q: want projects/P/locations/L", r.GetParent())
	}
	if err := validateQueue(r.GetQueue()); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(r.Queue.Name, r.Parent+"/queues/") {
		return nil, status.Errorf(codes.InvalidArgument, "queue %s is not under %s", r.Queue.Name, r.Parent)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.queues[r.Queue.Name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "queue %s exists", r.Queue.Name)
	}
	pb := proto.Clone(r.Queue).(*cloudtaskspb.Queue)
	pb.State = cloudtaskspb.Queue_RUNNING
	withDefaults(pb)
	q := newQueue(e, pb)
	e.queues[pb.Name] = q
	e.loops.Add(1)
	go q.run()
	return proto.Clone(pb).(*cloudtaskspb.Queue), nil
}

func (e *Emulator) GetQueue(_ context.Context, r *cloudtaskspb.GetQueueRequest) (*cloudtaskspb.Queue, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(r.GetName())
	if err != nil {
		return nil, err
	}
	return proto.Clone(q.pb).(*cloudtaskspb.Queue), nil
}

func (e *Emulator) ListQueues(_ context.Context, r *cloudtaskspb.ListQueuesRequest) (*cloudtaskspb.ListQueuesResponse, error) {
	if !parentName.MatchString(r.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "parent %q: want projects/P/locations/L", r.GetParent())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for n := range e.queues {
		if strings.HasPrefix(n, r.Parent+"/queues/") && n > r.PageToken {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := &cloudtaskspb.ListQueuesResponse{}
	size := int(r.PageSize)
	if size <= 0 || size > 9800 {
		size = 9800
	}
	for i, n := range names {
		if i == size {
			out.NextPageToken = names[i-1]
			break
		}
		out.Queues = append(out.Queues, proto.Clone(e.queues[n].pb).(*cloudtaskspb.Queue))
	}
	return out, nil
}

func (e *Emulator) UpdateQueue(_ context.Context, r *cloudtaskspb.UpdateQueueRequest) (*cloudtaskspb.Queue, error) {
	if err := validateQueue(r.GetQueue()); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(r.Queue.Name)
	if err != nil {
		return nil, err
	}
	next := proto.Clone(q.pb).(*cloudtaskspb.Queue)
	in := r.Queue
	for _, p := range r.GetUpdateMask().GetPaths() {
		switch p {
		case "rate_limits.max_dispatches_per_second":
			next.RateLimits.MaxDispatchesPerSecond = in.GetRateLimits().GetMaxDispatchesPerSecond()
		case "rate_limits.max_concurrent_dispatches":
			next.RateLimits.MaxConcurrentDispatches = in.GetRateLimits().GetMaxConcurrentDispatches()
		case "retry_config.max_attempts":
			next.RetryConfig.MaxAttempts = in.GetRetryConfig().GetMaxAttempts()
		case "retry_config.min_backoff":
			next.RetryConfig.MinBackoff = in.GetRetryConfig().GetMinBackoff()
		case "retry_config.max_backoff":
			next.RetryConfig.MaxBackoff = in.GetRetryConfig().GetMaxBackoff()
		case "retry_config.max_doublings":
			next.RetryConfig.MaxDoublings = in.GetRetryConfig().GetMaxDoublings()
		case "app_engine_routing_override":
			next.AppEngineRoutingOverride = in.GetAppEngineRoutingOverride()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "field mask path %q is not one this emulator updates", p)
		}
	}
	withDefaults(next)
	if err := validateQueue(next); err != nil {
		return nil, err
	}
	q.pb = next
	q.wakeUp()
	return proto.Clone(next).(*cloudtaskspb.Queue), nil
}

// setState pauses or resumes a queue.
func (e *Emulator) setState(name string, st cloudtaskspb.Queue_State) (*cloudtaskspb.Queue, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	q.pb.State = st
	q.wakeUp()
	return proto.Clone(q.pb).(*cloudtaskspb.Queue), nil
}

func (e *Emulator) PauseQueue(_ context.Context, r *cloudtaskspb.PauseQueueRequest) (*cloudtaskspb.Queue, error) {
	return e.setState(r.GetName(), cloudtaskspb.Queue_PAUSED)
}

func (e *Emulator) ResumeQueue(_ context.Context, r *cloudtaskspb.ResumeQueueRequest) (*cloudtaskspb.Queue, error) {
	return e.setState(r.GetName(), cloudtaskspb.Queue_RUNNING)
}

// PurgeQueue drops every task not in flight; their names stay taken.
func (e *Emulator) PurgeQueue(_ context.Context, r *cloudtaskspb.PurgeQueueRequest) (*cloudtaskspb.Queue, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.lookup(r.GetName())
	if err != nil {
		return nil, err
	}
	q.pending = nil
	return proto.Clone(q.pb).(*cloudtaskspb.Queue), nil
}
