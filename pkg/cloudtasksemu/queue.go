package cloudtasksemu

import (
	"container/heap"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// task is a queued task and what its attempts so far left.
type task struct {
	pb  *cloudtaskspb.Task
	eta time.Time // when the next attempt is due
	seq int64     // creation order: equal ETAs go first in, first out

	dispatches   int32 // attempts made: X-AppEngine-TaskRetryCount of the next one
	responses    int32 // responses received: X-AppEngine-TaskExecutionCount
	lastResponse int   // the previous attempt's HTTP status, 0 if none

	index   int  // in the pending heap; -1 when not pending
	deleted bool // DeleteTask while in flight: no retry
}

func (t *task) snapshot() *cloudtaskspb.Task {
	out := proto.Clone(t.pb).(*cloudtaskspb.Task)
	out.ScheduleTime = timestamppb.New(t.eta)
	out.DispatchCount = t.dispatches
	out.ResponseCount = t.responses
	return out
}

// pending orders the waiting tasks by ETA, then creation.
type pending []*task

func (p pending) Len() int { return len(p) }
func (p pending) Less(i, j int) bool {
	if !p[i].eta.Equal(p[j].eta) {
		return p[i].eta.Before(p[j].eta)
	}
	return p[i].seq < p[j].seq
}
func (p pending) Swap(i, j int) {
	p[i], p[j] = p[j], p[i]
	p[i].index, p[j].index = i, j
}
func (p *pending) Push(x any) {
	t := x.(*task)
	t.index = len(*p)
	*p = append(*p, t)
}
func (p *pending) Pop() any {
	old := *p
	t := old[len(old)-1]
	*p = old[:len(old)-1]
	t.index = -1
	return t
}

// queue is one Cloud Tasks queue: its settings, its tasks and its token bucket. Its
// fields are guarded by the emulator's mutex.
type queue struct {
	e        *Emulator
	pb       *cloudtaskspb.Queue
	pending  pending
	inFlight map[string]*task
	tokens   float64
	filled   time.Time
	wake     chan struct{}
	stats    Stats
	// attempted holds when each attempt of the last minute ended: the v2beta3 stats'
	// executedLastMinuteCount (pruned as it is read or grows).
	attempted []time.Time
}

func newQueue(e *Emulator, pb *cloudtaskspb.Queue) *queue {
	return &queue{
		e: e, pb: pb, inFlight: map[string]*task{}, wake: make(chan struct{}, 1),
		// A new queue starts with a full bucket, as Cloud Tasks' does.
		tokens: float64(pb.RateLimits.MaxBurstSize), filled: e.cfg.Now(),
	}
}

// wakeUp makes the queue's loop look again (after a change); the caller holds e.mu.
func (q *queue) wakeUp() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) add(t *task) {
	heap.Push(&q.pending, t)
	q.wakeUp()
}

func (q *queue) find(name string) *task {
	if t, ok := q.inFlight[name]; ok {
		return t
	}
	for _, t := range q.pending {
		if t.pb.Name == name {
			return t
		}
	}
	return nil
}

func (q *queue) all() []*task {
	out := append([]*task{}, q.pending...)
	for _, t := range q.inFlight {
		out = append(out, t)
	}
	return out
}

func (q *queue) remove(name string) bool {
	if t, ok := q.inFlight[name]; ok {
		t.deleted = true
		return true
	}
	for _, t := range q.pending {
		if t.pb.Name == name {
			heap.Remove(&q.pending, t.index)
			return true
		}
	}
	return false
}

// run dispatches the queue's tasks until the emulator closes.
func (q *queue) run() {
	defer q.e.loops.Done()
	for {
		t, wait := q.next()
		if t != nil {
			q.e.loops.Add(1)
			go q.dispatch(t)
			continue
		}
		var timer <-chan time.Time
		var tm *time.Timer
		if wait > 0 {
			tm = time.NewTimer(wait)
			timer = tm.C
		}
		select {
		case <-q.e.stop:
			return
		case <-q.wake:
		case <-timer:
		}
		if tm != nil {
			tm.Stop()
		}
	}
}

// next takes the task to dispatch now, if the queue's state, concurrency, the task's ETA
// and the token bucket allow one; otherwise it says how long to wait (0: until woken).
func (q *queue) next() (*task, time.Duration) {
	q.e.mu.Lock()
	defer q.e.mu.Unlock()
	if q.pb.State != cloudtaskspb.Queue_RUNNING || len(q.pending) == 0 ||
		len(q.inFlight) >= int(q.pb.RateLimits.MaxConcurrentDispatches) {
		return nil, 0
	}
	now := q.e.cfg.Now()
	t := q.pending[0]
	if d := t.eta.Sub(now); d > 0 {
		return nil, d
	}
	rate := q.pb.RateLimits.MaxDispatchesPerSecond
	burst := float64(q.pb.RateLimits.MaxBurstSize)
	if el := now.Sub(q.filled); el > 0 {
		q.tokens = min(burst, q.tokens+rate*el.Seconds())
	}
	q.filled = now
	if q.tokens < 1 {
		return nil, max(time.Millisecond, time.Duration((1-q.tokens)/rate*float64(time.Second)))
	}
	q.tokens--
	heap.Pop(&q.pending)
	q.inFlight[t.pb.Name] = t
	return t, 0
}
