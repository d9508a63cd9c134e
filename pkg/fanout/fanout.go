// Package fanout publishes the change feed to a Pub/Sub topic: every record, after its
// commit, at least once, in order per group (the ordering key), with its cursor in the
// attributes. A subscriber's push subscription turns it into a webhook with no code of
// ours.
//
// The publisher runs beside the cache, never inside its transactions: it reads the feed
// from a stored "published up to" cursor, publishes a batch, waits for Pub/Sub to accept
// all of it, then stores the new cursor. A slow or unreachable Pub/Sub only makes the
// publisher fall behind (and retry from its cursor); the sync never waits for it. A crash
// between publishing and storing the cursor publishes those records again: subscribers
// deduplicate by the cursor attribute.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
)

// StateName is the state document holding the cursor published up to.
const StateName = "fanout/published"

// Store is what the publisher reads and where it keeps its cursor; greep.Store
// implements it.
type Store interface {
	Changes(ctx context.Context, q greep.ChangeQuery) ([]greep.Change, uint64, error)
	ChangeLog(ctx context.Context) (greep.ChangeLog, error)
	greep.StateStore
}

// Message is one record as published.
type Message struct {
	Data        []byte
	Attributes  map[string]string
	OrderingKey string
}

// Topic publishes messages; Publish returns once every message is accepted, or the
// first failure. PubSubTopic is the Cloud Pub/Sub one.
type Topic interface {
	Publish(ctx context.Context, msgs []Message) error
}

// Options tune a Publisher.
type Options struct {
	// Batch is how many records one round publishes (default 500).
	Batch  int
	Logger *zap.Logger
}

// Publisher publishes the feed to a topic, a bounded Drain at a time: the directory
// service drains after each task and on its cron, so no instance runs a loop.
type Publisher struct {
	store Store
	topic Topic
	o     Options
	log   *zap.Logger
}

// New returns a publisher of store's feed to topic.
func New(store Store, topic Topic, o Options) *Publisher {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Publisher{store: store, topic: topic, o: o, log: log}
}

// NewMessage is the message of one record: the record's JSON, ordered by its group's id
// (stable across renames), with cursor, kind and group in the attributes for
// subscription filters.
func NewMessage(c greep.Change) (Message, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return Message{}, err
	}
	return Message{
		Data:        data,
		OrderingKey: c.GroupID,
		Attributes: map[string]string{
			"cursor":  strconv.FormatUint(c.Cursor, 10),
			"kind":    c.Kind,
			"group":   c.Group,
			"groupId": c.GroupID,
		},
	}, nil
}

type state struct {
	Cursor uint64 `json:"cursor,string"`
}

// Published returns the cursor published up to.
func (p *Publisher) Published(ctx context.Context) (uint64, error) {
	var s state
	_, err := greep.LoadState(ctx, p.store, StateName, &s)
	return s.Cursor, err
}

// round publishes one batch after the stored cursor and stores the new cursor; it
// returns how many records it published.
func (p *Publisher) round(ctx context.Context) (int, error) {
	from, err := p.Published(ctx)
	if err != nil {
		return 0, err
	}
	changes, next, err := p.store.Changes(ctx, greep.ChangeQuery{Since: from, Limit: p.o.Batch})
	if errors.Is(err, greep.ErrGone) {
		// Behind the retention: those records are gone for subscribers too. Say so
		// loudly and go on from what is left.
		l, lerr := p.store.ChangeLog(ctx)
		if lerr != nil {
			return 0, lerr
		}
		p.log.Error("the publisher fell behind the change feed's retention; records were never published",
			zap.Uint64("from", from), zap.Uint64("prunedTo", l.Pruned))
		return 1, p.saveCursor(ctx, from, l.Pruned)
	}
	if err != nil {
		return 0, err
	}
	if next == from {
		return 0, nil
	}
	msgs := make([]Message, 0, len(changes))
	for _, c := range changes {
		m, err := NewMessage(c)
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, m)
	}
	if err := p.topic.Publish(ctx, msgs); err != nil {
		return 0, fmt.Errorf("publish records %d-%d: %w", from+1, next, err)
	}
	return len(msgs), p.saveCursor(ctx, from, next)
}

// saveCursor moves the stored cursor from from to next, unless another publisher moved it.
func (p *Publisher) saveCursor(ctx context.Context, from, next uint64) error {
	_, err := greep.UpdateStateJSON(ctx, p.store, StateName, func(s *state) error {
		if s.Cursor == from {
			s.Cursor = next
		}
		return nil
	})
	return err
}
