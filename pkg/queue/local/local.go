// Package local is the in-process task dispatcher `greep local` runs instead of Cloud
// Tasks, with the same semantics: each queue of queues.yaml dispatches at its derived rate
// (token buckets; a background queue also borrows what the other queues of its API's
// window leave unused: lanes.go) with at most its concurrency in flight, retries failures with Cloud
// Tasks' backoff (a 429 or 503 answer waits longer), honours schedule times, and refuses a
// named task while one of that name is queued or ran recently. Tasks are durable: they
// live in a greep.RecordStore until they succeed or run out of attempts, so a restart
// loses none, and a task is never run twice at once.
//
// Tasks reach the handler as in-process requests whose context is marked with
// queue.WithInfo, which is what queue.OnlyTasks lets through; nothing outside the process
// can produce such a request.
package local

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queueconfig"
)

// Record kinds in the store.
const (
	kindTask = "queue-task" // one per queued task, keyed by its queue and enqueue time, deleted when it is done; a named task's takes its name
	kindTomb = "queue-tomb" // one per name that ran recently, keyed by its tombstone's end (tombstones.go)
	kindName = "queue-name" // stores written before queue-tomb: one per name, keyed by the name; read, never written
)

// keyTime is the layout of the times in record ids (tasks', tombstones'): fixed width,
// so ids sort by time.
const keyTime = "20060102T150405.000000000Z"

// Limits shared with Cloud Tasks, so what works locally works there.
const (
	MaxBody         = 100 * 1024
	MaxScheduleSpan = 30 * 24 * time.Hour
	maxNameLen      = 500
)

var taskName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Options tune a Dispatcher; the zero value is usable.
type Options struct {
	// Clock defaults to WallClock.
	Clock Clock
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// Tombstone is how long a task's name stays taken after it ran (default 1h; Cloud
	// Tasks keeps names between an hour and several days).
	Tombstone time.Duration
	// Deadline bounds one handler call in wall time (default 10 min, App Engine's).
	Deadline time.Duration
}

// Dispatcher runs the tasks of every queue of a queues.yaml config. Open it, enqueue at
// will, Start it with the handler that serves the task paths, Stop it to finish.
type Dispatcher struct {
	store     greep.RecordStore
	committer greep.Committer // nil: no units of work (see unit.go)
	clock     Clock
	log       *zap.Logger
	tombstone time.Duration
	deadline  time.Duration
	lanes     map[string]*lane
	changed   *signal // wakes WaitIdle

	mu          sync.Mutex // guards names and expiries, and orders name claims with their task writes
	names       map[string]nameState
	expiries    expiries      // when the tombstones in names end
	janitorWake chan struct{} // an earlier tombstone end than the janitor waits for
	started     bool
	stopped     bool
	handler     http.Handler

	done     chan struct{}  // closed by Stop: lane loops end
	loops    sync.WaitGroup // lane loops and the janitor
	inflight sync.WaitGroup // handler calls
	ctx      context.Context
	cancel   context.CancelFunc
}

type nameState struct {
	// Expires is when a tombstone ends; zero while the task is queued.
	Expires time.Time `json:"expires,omitzero"`
}

// stored is a task as the store keeps it.
type stored struct {
	ID         string    `json:"id"`
	Queue      string    `json:"queue"`
	Name       string    `json:"name,omitempty"`
	Path       string    `json:"path"`
	Body       []byte    `json:"body,omitempty"`
	Enqueued   time.Time `json:"enqueued"`
	NextAt     time.Time `json:"nextAt"`
	Attempts   int       `json:"attempts,omitempty"`   // dispatches so far
	Executions int       `json:"executions,omitempty"` // dispatches the handler answered

	// record is the task's record id: its queue, when it was enqueued, then its ID
	// ("directory-sweep/20261205T010203.000000000Z/n-name"), so tasks are stored in the
	// order they were queued and mostly run in: a run's completion deletes beside the
	// deletions before it, not on a random page among every queued task's. Tasks stored
	// before keep the id they were stored under (queue/ID).
	record string
}

// key is the task's name key (queue/ID), which a named task's name is taken under.
func (t *stored) key() string { return t.Queue + "/" + t.ID }

// recordID is the record id of a task enqueued now.
func recordID(queue string, enqueued time.Time, id string) string {
	return queue + "/" + enqueued.UTC().Format(keyTime) + "/" + id
}

type lane struct {
	cfg   *queueconfig.Lane
	retry queueconfig.Retry
	// buckets are the token buckets a dispatch takes a token from, in order (lanes.go).
	buckets []*rate.Limiter
	// gather commits the units of runs that finish together in one go (gather.go); nil
	// for a lane whose runs commit alone.
	gather *gather
	slots  chan struct{}
	// work hands a task to a worker that said it waits (idle, under mu); started
	// counts the workers ever started.
	work    chan *stored
	started atomic.Int64
	wake    chan struct{}
	changed *signal

	mu    sync.Mutex
	ready taskHeap
	idle  int // workers waiting on work
	// tokenAt is when the held task waiting for the lane's token bucket may go (zero
	// when none waits): to WaitIdle that task is scheduled, not due.
	tokenAt time.Time

	// held counts tasks taken out of ready and not yet done or put back: waiting for a
	// slot or a token, or running.
	held, dispatched, retries atomic.Int64
}

// Open loads the queued tasks and name tombstones from store and returns a dispatcher
// that accepts tasks but runs none until Start.
func Open(ctx context.Context, store greep.RecordStore, cfg *queueconfig.Config, opts Options) (*Dispatcher, error) {
	d := &Dispatcher{
		store:     store,
		clock:     opts.Clock,
		log:       opts.Logger,
		tombstone: opts.Tombstone,
		deadline:  opts.Deadline,
		lanes:     map[string]*lane{},
		names:     map[string]nameState{},
		changed:   &signal{},
		done:      make(chan struct{}),

		janitorWake: make(chan struct{}, 1),
	}
	d.committer, _ = store.(greep.Committer)
	if d.clock == nil {
		d.clock = WallClock
	}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.tombstone <= 0 {
		d.tombstone = time.Hour
	}
	if d.deadline <= 0 {
		d.deadline = 10 * time.Minute
	}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	buckets := laneBuckets(cfg)
	for _, name := range cfg.LaneNames() {
		l := cfg.Lanes[name]
		d.lanes[name] = &lane{
			cfg:     l,
			retry:   l.RetryPolicy(),
			buckets: buckets[name],
			slots:   make(chan struct{}, l.Concurrency),
			work:    make(chan *stored),
			wake:    make(chan struct{}, 1),
			changed: d.changed,
		}
		if l.Background && d.committer != nil {
			d.lanes[name].gather = newGather(d.clock, d.committer)
		}
	}
	if err := d.load(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// load reads the stored tasks into the lanes and the names into memory. A queued task's
// name is taken by its task record, whatever the tombstones say; a tombstone takes the
// name of a task that ran until it expires. Expired tombstones are deleted. (Stores
// written before tombstones were keyed by their end hold them as queue-name records,
// some marked queued: those are read too, and pruned like the others; a queued one whose
// task is gone is freed.)
func (d *Dispatcher) load(ctx context.Context) error {
	now := d.clock.Now()
	have := map[string]bool{}
	err := d.store.Records(ctx, kindTask, func(id string, data []byte) error {
		var t stored
		if err := json.Unmarshal(data, &t); err != nil {
			d.log.Error("queue: unreadable stored task left in place", zap.String("id", id), zap.Error(err))
			return nil
		}
		l, ok := d.lanes[t.Queue]
		if !ok {
			// Kept, not dropped: the queue may come back in the next queues.yaml.
			d.log.Warn("queue: stored task of a queue queues.yaml no longer declares", zap.String("queue", t.Queue), zap.String("id", id))
			return nil
		}
		if t.Name != "" {
			have[t.key()] = true
		}
		t.record = id
		heap.Push(&l.ready, &t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: loading tasks: %w", err)
	}
	expired := map[string][]string{} // kind -> ids
	tombstone := func(e expiry) {
		if !e.at.After(now) {
			expired[e.kind] = append(expired[e.kind], e.id)
			return
		}
		d.expiries = append(d.expiries, e)
		if n := d.names[e.key]; e.at.After(n.Expires) && !have[e.key] {
			d.names[e.key] = nameState{Expires: e.at}
		}
	}
	err = d.store.Records(ctx, kindTomb, func(id string, _ []byte) error {
		e, err := parseTombID(id)
		if err != nil {
			d.log.Error("queue: unreadable tombstone deleted", zap.String("id", id), zap.Error(err))
			expired[kindTomb] = append(expired[kindTomb], id)
			return nil
		}
		tombstone(e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: loading tombstones: %w", err)
	}
	err = d.store.Records(ctx, kindName, func(id string, data []byte) error {
		var n nameState
		if err := json.Unmarshal(data, &n); err != nil {
			d.log.Error("queue: unreadable task name record", zap.String("id", id), zap.Error(err))
			return nil
		}
		// A legacy record marked queued has a zero end: expired, unless its task is
		// queued, which takes the name anyway.
		tombstone(expiry{at: n.Expires, key: id, kind: kindName, id: id})
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: loading task names: %w", err)
	}
	heap.Init(&d.expiries)
	for key := range have {
		d.names[key] = nameState{}
	}
	for _, kind := range []string{kindTomb, kindName} {
		if ids := expired[kind]; len(ids) > 0 {
			if err := d.store.DeleteRecords(ctx, kind, ids); err != nil {
				return fmt.Errorf("queue: pruning %d expired task names: %w", len(ids), err)
			}
		}
	}
	return nil
}

// Enqueue implements queue.Enqueuer. The task is stored before Enqueue returns, so it
// survives a restart. A named task whose name is taken (queued, or ran within the
// tombstone window) is dropped and Enqueue returns nil.
func (d *Dispatcher) Enqueue(ctx context.Context, t queue.Task) error {
	l, ok := d.lanes[t.Queue]
	if !ok {
		return greep.Errorf(greep.EINVALID, "queue %q is not declared in queues.yaml", t.Queue)
	}
	if !strings.HasPrefix(t.Path, l.cfg.PathPrefix) {
		return greep.Errorf(greep.EINVALID, "task path %q is not under queue %s's prefix %s (service %s)", t.Path, t.Queue, l.cfg.PathPrefix, l.cfg.Service)
	}
	if t.Name != "" && (len(t.Name) > maxNameLen || !taskName.MatchString(t.Name)) {
		return greep.Errorf(greep.EINVALID, "task name %q: use at most %d letters, digits, '-' and '_'", t.Name, maxNameLen)
	}
	if len(t.Body) > MaxBody {
		return greep.Errorf(greep.ETOOLARGE, "task body is %d bytes; the limit is %d", len(t.Body), MaxBody)
	}
	now := d.clock.Now()
	if t.ScheduleTime.After(now.Add(MaxScheduleSpan)) {
		return greep.Errorf(greep.EINVALID, "schedule time %s is more than 30 days ahead", t.ScheduleTime.Format(time.RFC3339))
	}
	task := &stored{Queue: t.Queue, Name: t.Name, Path: t.Path, Body: t.Body, Enqueued: now, NextAt: now}
	if t.ScheduleTime.After(now) {
		task.NextAt = t.ScheduleTime
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return greep.Errorf(greep.EINTERNAL, "queue: dispatcher stopped")
	}
	if t.Name != "" {
		task.ID = "n-" + t.Name
		key := task.key()
		if n, taken := d.names[key]; taken && (n.Expires.IsZero() || n.Expires.After(now)) {
			return nil
		}
	} else {
		var b [12]byte
		_, _ = rand.Read(b[:])
		task.ID = "u-" + hex.EncodeToString(b[:])
	}
	task.record = recordID(task.Queue, now, task.ID)
	if u := deferTo(ctx); u != nil {
		// Stored and queued with the commit of the run enqueueing it.
		if t.Name != "" {
			d.names[task.key()] = nameState{}
		}
		u.tasks = append(u.tasks, task)
		return nil
	}
	if err := d.save(ctx, task); err != nil {
		return err
	}
	if t.Name != "" {
		d.names[task.key()] = nameState{}
	}
	l.push(task)
	return nil
}

// putTombstone stores a tombstone for the name key until at, and takes the name with it.
// Called with d.mu held.
func (d *Dispatcher) putTombstone(ctx context.Context, key string, at time.Time) error {
	e := newExpiry(key, at)
	if err := d.store.PutRecord(ctx, kindTomb, e.id, nil); err != nil {
		return fmt.Errorf("queue: recording task name %s: %w", key, err)
	}
	d.tombstoned(e)
	return nil
}

func (d *Dispatcher) save(ctx context.Context, t *stored) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := d.store.PutRecord(ctx, kindTask, t.record, b); err != nil {
		return fmt.Errorf("queue: storing task %s: %w", t.key(), err)
	}
	return nil
}

func (l *lane) push(t *stored) {
	l.mu.Lock()
	heap.Push(&l.ready, t)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	l.changed.broadcast()
}

// Start begins dispatching to h, which serves the task paths (typically behind
// queue.OnlyTasks). It returns at once.
func (d *Dispatcher) Start(h http.Handler) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.stopped {
		return errors.New("queue: dispatcher already started")
	}
	d.started, d.handler = true, h
	for _, l := range d.lanes {
		d.loops.Add(1)
		go func() {
			defer d.loops.Done()
			d.runLane(l)
		}()
	}
	d.loops.Add(1)
	go func() {
		defer d.loops.Done()
		d.janitor()
	}()
	return nil
}

// Stop stops dispatching and waits for the tasks in flight to finish, or for ctx to end,
// in which case their contexts are cancelled (they are retried after a restart). Queued
// tasks stay in the store.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	close(d.done)
	d.mu.Unlock()

	d.loops.Wait()
	finished := make(chan struct{})
	go func() {
		d.inflight.Wait()
		close(finished)
	}()
	defer d.cancel()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		d.cancel()
		<-finished
		return fmt.Errorf("queue: stopped before tasks in flight finished: %w", ctx.Err())
	}
}

// runLane dispatches one lane's tasks: the earliest due task, once a concurrency slot is
// free and the token bucket allows.
func (d *Dispatcher) runLane(l *lane) {
	for {
		t, wait := l.next(d.clock)
		if t == nil {
			select {
			case <-wait:
			case <-l.wake:
			case <-d.done:
				return
			}
			continue
		}
		select {
		case l.slots <- struct{}{}:
		case <-d.done:
			l.putBack(t)
			return
		}
		if !d.waitToken(l) {
			<-l.slots
			l.putBack(t)
			return
		}
		d.inflight.Add(1)
		l.mu.Lock()
		waiting := l.idle > 0
		if waiting {
			l.idle--
		}
		l.mu.Unlock()
		if !waiting {
			l.started.Add(1)
			go d.worker(l, t)
			continue
		}
		select {
		case l.work <- t:
		case <-d.done:
			// The worker it counted on stopped: run t as a worker would, then stop.
			go d.runHeld(l, t)
			return
		}
	}
}

// worker runs t, then whatever tasks of the lane it is handed while it waits, until Stop.
// A goroutine started for each run began with a small stack and grew it by copying as
// the handler went deep (the router, the Google client, bbolt): 3.6% of Greep's CPU in a
// full sync at the origin's size. A worker keeps the stack it grew. A lane starts one
// only when none waits for a task, so it has no more than it has slots.
func (d *Dispatcher) worker(l *lane, t *stored) {
	for {
		d.run(l, t)
		d.inflight.Done()
		// It says it waits before it gives its slot back, so the dispatch the slot lets
		// through hands its task here rather than starting another worker.
		l.mu.Lock()
		l.idle++
		l.mu.Unlock()
		<-l.slots
		select {
		case t = <-l.work:
		case <-d.done:
			return
		}
	}
}

// runHeld runs t, which holds one of the lane's slots, and gives the slot back.
func (d *Dispatcher) runHeld(l *lane, t *stored) {
	d.run(l, t)
	d.inflight.Done()
	<-l.slots
}

// waitToken takes a token from each of the lane's buckets in turn, waiting as long as
// each says. It reports false if the dispatcher stopped meanwhile.
func (d *Dispatcher) waitToken(l *lane) bool {
	for _, b := range l.buckets {
		if !d.waitBucket(l, b) {
			return false
		}
	}
	return true
}

// waitBucket takes a token from b, waiting as long as b says. It re-reads the clock after
// every wake, since a clock's timers may fire early (a clock moved by hand wakes them).
//
// A background lane with more tasks to run waits for a batch of tokens rather than one
// (batch): its next tasks then go back to back on one wake-up instead of one wake-up a
// task. The rate is the same; what changes is how often the process goes from idle to
// busy, which costs as much CPU as a call's own work (docs/benchmarks.md, "Batched
// dispatch and group commit"). It reserves nothing while it waits, so push lanes take
// from the pool first.
func (d *Dispatcher) waitBucket(l *lane, b *rate.Limiter) bool {
	now := d.clock.Now()
	if want := l.batch(b); want > 1 && b.TokensAt(now) < 1 {
		at := now.Add(tokensIn(b, now, want))
		if !d.waitUntil(l, at) {
			return false
		}
		now = d.clock.Now()
	}
	r := b.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return true
	}
	if !d.waitUntil(l, now.Add(delay)) {
		r.CancelAt(d.clock.Now())
		return false
	}
	return true
}

// waitUntil waits for the clock to reach at, recording it as when the lane's held task
// goes. It reports false if the dispatcher stopped first.
func (d *Dispatcher) waitUntil(l *lane, at time.Time) bool {
	l.waitingToken(at)
	defer l.waitingToken(time.Time{})
	for d.clock.Now().Before(at) {
		select {
		case <-d.clock.At(at):
		case <-d.done:
			return false
		}
	}
	return true
}

// batch is how many tokens a background lane waits for: its held task and the tasks
// queued behind it, up to half b's burst and the lane's free concurrency slots. Other lanes
// wait for one.
func (l *lane) batch(b *rate.Limiter) int {
	if !l.cfg.Background {
		return 1
	}
	l.mu.Lock()
	queued := l.ready.Len()
	l.mu.Unlock()
	return max(1, min(b.Burst()/2, 1+queued, 1+cap(l.slots)-len(l.slots)))
}

// tokensIn is how long until b holds n tokens, if nothing else takes from it.
func tokensIn(b *rate.Limiter, now time.Time, n int) time.Duration {
	missing := float64(n) - b.TokensAt(now)
	if missing <= 0 || b.Limit() <= 0 {
		return 0
	}
	return time.Duration(missing / float64(b.Limit()) * float64(time.Second))
}

// waitingToken records when the lane's held task gets its token (zero: it has it).
func (l *lane) waitingToken(at time.Time) {
	l.mu.Lock()
	l.tokenAt = at
	l.mu.Unlock()
	if !at.IsZero() {
		l.changed.broadcast()
	}
}

// next pops the earliest task if it is due; otherwise it returns a channel that fires
// when the earliest is due (nil when the lane is empty).
func (l *lane) next(c Clock) (*stored, <-chan time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ready.Len() == 0 {
		return nil, nil
	}
	if due := l.ready[0].NextAt; due.After(c.Now()) {
		return nil, c.At(due)
	}
	l.held.Add(1)
	return heap.Pop(&l.ready).(*stored), nil
}

// putBack returns a held task to the ready heap. The task is pushed before it stops
// counting as held, so WaitIdle never sees it in neither place.
func (l *lane) putBack(t *stored) {
	l.push(t)
	l.release()
}

// release counts a held task no longer held: done, or back in the ready heap.
func (l *lane) release() {
	l.held.Add(-1)
	l.changed.broadcast()
}

// run makes one attempt of t and records its outcome.
func (d *Dispatcher) run(l *lane, t *stored) {
	info := queue.Info{Queue: t.Queue, Name: t.Name, RetryCount: t.Attempts, ExecutionCount: t.Executions}
	ctx := queue.WithInfo(d.ctx, info)
	ctx = callbudget.WithBudget(ctx, callbudget.PerTaskCalls)
	u, ctx := d.newUnit(ctx)
	ctx, cancel := context.WithTimeout(ctx, d.deadline)
	defer cancel()

	l.dispatched.Add(1)
	store := context.WithoutCancel(d.ctx)
	r := l.gather.start()
	defer r.leave(store)
	status, retryAfter := d.call(ctx, t)
	t.Attempts++
	if status != 0 {
		t.Executions++
	}
	log := d.log.With(zap.String("queue", t.Queue), zap.String("task", t.ID), zap.String("path", t.Path), zap.Int("status", status), zap.Int("attempt", t.Attempts))

	ok := status >= 200 && status < 300
	last := !ok && l.retry.MaxAttempts > 0 && t.Attempts >= l.retry.MaxAttempts
	if last {
		log.Error("queue: task failed its last attempt; dropped")
	}
	switch {
	case (ok || last) && u == nil:
		r.leave(store)
		d.finish(store, t, log)
		l.release()
		return
	case ok || last:
		err := d.complete(ctx, store, t, u, ok, r)
		if err == nil {
			l.release()
			return
		}
		// Nothing of the run is stored: it runs again, as after a failure.
		log.Error("queue: recording a finished task", zap.Error(err))
	default:
		r.leave(store)
		if u != nil {
			d.drop(u)
		}
	}
	backoff := l.retry.Backoff(t.Attempts - 1)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		// The handler says its backend is overloaded: wait as long as the next step of
		// the policy would, or as long as the handler asks, within the policy's cap.
		backoff = max(l.retry.Backoff(t.Attempts), min(retryAfter, l.retry.MaxBackoff))
	}
	t.NextAt = d.clock.Now().Add(backoff)
	l.retries.Add(1)
	log.Info("queue: task failed; will retry", zap.Duration("backoff", backoff))
	if err := d.save(store, t); err != nil {
		// The store still holds the earlier attempt's record: the task is not lost,
		// only its attempt count lags.
		log.Error("queue: recording a retry", zap.Error(err))
	}
	l.putBack(t)
}

// call sends t to the handler and returns its status (0 if it never answered, e.g. the
// deadline passed first) and any Retry-After it gave.
func (d *Dispatcher) call(ctx context.Context, t *stored) (status int, retryAfter time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://greep.local"+t.Path, bytes.NewReader(t.Body))
	if err != nil {
		d.log.Error("queue: building task request", zap.String("path", t.Path), zap.Error(err))
		return http.StatusBadRequest, 0
	}
	req.Header.Set("Content-Type", "application/json")
	w := &recorder{header: http.Header{}}
	func() {
		defer func() {
			if p := recover(); p != nil {
				d.log.Error("queue: task handler panicked", zap.String("path", t.Path), zap.Any("panic", p), zap.Stack("stack"))
				w.status = http.StatusInternalServerError
			}
		}()
		d.handler.ServeHTTP(w, req)
	}()
	if w.status == 0 {
		w.status = http.StatusOK // a handler that writes nothing answered 200
	}
	if ctx.Err() != nil && w.status >= 300 {
		return 0, 0
	}
	if s, err := strconv.Atoi(w.header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return w.status, retryAfter
}

// finish removes a task that is done (succeeded or out of attempts) and turns its name
// into a tombstone.
func (d *Dispatcher) finish(ctx context.Context, t *stored, log *zap.Logger) {
	if t.Name != "" {
		d.mu.Lock()
		err := d.putTombstone(ctx, t.key(), d.clock.Now().Add(d.tombstone))
		d.mu.Unlock()
		if err != nil {
			log.Error("queue: recording a task name's tombstone", zap.Error(err))
		}
	}
	if err := d.store.DeleteRecord(ctx, kindTask, t.record); err != nil {
		// Left in the store, the task runs again after a restart: at least once, as
		// on Cloud Tasks, and handlers are idempotent.
		log.Error("queue: deleting a finished task", zap.Error(err))
	}
}

// Stats returns each queue's figures for /v1/status.
func (d *Dispatcher) Stats() map[string]greep.QueueStat {
	out := make(map[string]greep.QueueStat, len(d.lanes))
	for name, l := range d.lanes {
		l.mu.Lock()
		backlog := int64(l.ready.Len())
		// The heap is ordered by due time, not age: a scan, at status time only.
		var oldest time.Time
		for _, t := range l.ready {
			if oldest.IsZero() || t.Enqueued.Before(oldest) {
				oldest = t.Enqueued
			}
		}
		l.mu.Unlock()
		out[name] = greep.QueueStat{
			Oldest:        oldest,
			RatePerSecond: l.cfg.CeilingPerSecond(),
			Backlog:       backlog + l.held.Load(),
			Dispatched:    l.dispatched.Load(),
			Retries:       l.retries.Load(),
		}
	}
	return out
}

// recorder is the ResponseWriter of an in-process task call: the status and headers
// matter, the body is dropped.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}

// taskHeap orders tasks by due time, then by enqueue time.
type taskHeap []*stored

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if !h[i].NextAt.Equal(h[j].NextAt) {
		return h[i].NextAt.Before(h[j].NextAt)
	}
	return h[i].Enqueued.Before(h[j].Enqueued)
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(*stored)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

var _ queue.Enqueuer = (*Dispatcher)(nil)
