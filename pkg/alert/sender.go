package alert

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Poster posts one message; notify.Poster is one.
type Poster interface {
	Post(ctx context.Context, text string) error
}

// SenderConfig bounds what a webhook that fails or hangs can cost.
type SenderConfig struct {
	// Queue is how many messages wait at most (default 64); past it new ones are dropped.
	Queue int
	// Timeout bounds one POST (default 10 s), Attempts the POSTs of one message (default
	// 4), Backoff the wait after the first failure, doubled after each (default 2 s).
	Timeout  time.Duration
	Attempts int
	Backoff  time.Duration
	Log      *zap.Logger
}

// Sender posts messages from its own goroutine: Send never blocks the caller, whatever
// the webhook does.
type Sender struct {
	post Poster
	cfg  SenderConfig
	q    chan string
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	pending int           // messages queued or being posted
	idle    chan struct{} // closed while pending is 0
}

// NewSender starts a sender posting with p. Close stops it.
func NewSender(p Poster, cfg SenderConfig) *Sender {
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	s := &Sender{post: p, cfg: cfg, q: make(chan string, cfg.Queue), stop: make(chan struct{}), done: make(chan struct{}), idle: make(chan struct{})}
	close(s.idle)
	go s.run()
	return s
}

// Send queues text, or drops it with a log line when the queue is full.
func (s *Sender) Send(text string) {
	s.add(1)
	select {
	case <-s.stop:
		s.add(-1)
		s.cfg.Log.Warn("alert dropped: the sender is stopped", zap.String("text", text))
	case s.q <- text:
	default:
		s.add(-1)
		s.cfg.Log.Error("alert dropped: the webhook queue is full (the webhook fails or hangs)", zap.Int("queue", s.cfg.Queue), zap.String("text", text))
	}
}

func (s *Sender) add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == 0 && n > 0 {
		s.idle = make(chan struct{})
	}
	if s.pending += n; s.pending == 0 {
		close(s.idle)
	}
}

// Flush waits until every message sent so far was posted or dropped, or ctx ends, or the
// sender is stopped: a request that announced alerts (App Engine's cron) ends after them,
// as an instance may get no CPU between requests.
func (s *Sender) Flush(ctx context.Context) {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	case <-s.done:
	}
}

// Close stops the sender; a message being posted is cut off, queued ones are dropped.
func (s *Sender) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

func (s *Sender) run() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case text := <-s.q:
			s.deliver(text)
			s.add(-1)
		}
	}
}

func (s *Sender) deliver(text string) {
	backoff := s.cfg.Backoff
	var err error
	for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err = s.post.Post(ctx, text)
		cancel()
		if err == nil {
			return
		}
		if attempt == s.cfg.Attempts {
			break
		}
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	s.cfg.Log.Error("alert dropped after its last attempt", zap.Int("attempts", s.cfg.Attempts), zap.String("text", text), zap.Error(err))
}
