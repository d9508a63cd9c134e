package provisional

import (
	"sync"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// batches apply notifications in the background, one group at a time. Google (and the
// simulator) deliver a channel's notifications one after the other, so the webhook's
// answer must not wait for the cache: it hands the events over and answers. One worker
// takes the groups in the order their events arrived, each with every event queued for it
// so far: one plan and one snapshot write for all of them. The worker never competes with
// itself for the store's writer, and the busier the webhook, the more each write carries.
// It runs only while there is something queued.
type batches struct {
	mu      sync.Mutex
	queued  map[string]*pending // by group key
	order   []string            // group keys in arrival order, each once
	running bool
	idle    sync.WaitGroup
}

type pending struct {
	events   []greep.Event
	accepted map[string]time.Time // by event id
}

// add queues events, accepted at, for the group called key, and starts the worker unless
// it runs.
func (b *batches) add(key string, events []greep.Event, at time.Time, apply func(key string, events []greep.Event, accepted map[string]time.Time)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.queued == nil {
		b.queued = map[string]*pending{}
	}
	p := b.queued[key]
	if p == nil {
		p = &pending{accepted: map[string]time.Time{}}
		b.queued[key] = p
		b.order = append(b.order, key)
	}
	p.events = append(p.events, events...)
	for _, e := range events {
		if _, seen := p.accepted[e.ID]; !seen {
			p.accepted[e.ID] = at
		}
	}
	if !b.running {
		b.running = true
		b.idle.Add(1)
		go b.run(apply)
	}
}

// run applies the queued groups until none is left.
func (b *batches) run(apply func(key string, events []greep.Event, accepted map[string]time.Time)) {
	defer b.idle.Done()
	for {
		b.mu.Lock()
		if len(b.order) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		key := b.order[0]
		b.order = b.order[1:]
		p := b.queued[key]
		delete(b.queued, key)
		b.mu.Unlock()
		apply(key, p.events, p.accepted)
	}
}

// wait returns once nothing is queued or being applied.
func (b *batches) wait() { b.idle.Wait() }
