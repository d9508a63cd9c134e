package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/fanout"
	"github.com/greephq/greep/pkg/greep"
)

func newStore(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func member(id string) greep.Member {
	return greep.Member{ID: id, Email: id + "@example.com", Role: "MEMBER", Type: "USER", Status: "ACTIVE"}
}

// scenario writes changes on three groups, interleaved: 3 created, then per round and
// group one member added and (after the first round) one removed.
func scenario(t *testing.T, s greep.Store, rounds int) uint64 {
	t.Helper()
	ctx := context.Background()
	var gs []greep.Group
	for i := range 3 {
		gs = append(gs, greep.Group{ID: fmt.Sprint("g", i), Email: fmt.Sprintf("g%d@example.com", i)})
	}
	if err := s.PutGroups(ctx, gs); err != nil {
		t.Fatal(err)
	}
	for r := range rounds {
		for _, g := range gs {
			if err := s.ReplaceMembers(ctx, g.ID, []greep.Member{member(fmt.Sprintf("%s-%d", g.ID, r))}, "e", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	l, err := s.ChangeLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return l.Head
}

// memTopic is a Topic in memory that can fail or block.
type memTopic struct {
	mu    sync.Mutex
	got   []fanout.Message
	fails int           // fail this many Publish calls
	block chan struct{} // when set, Publish waits for it
}

func (m *memTopic) Publish(ctx context.Context, msgs []fanout.Message) error {
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fails > 0 {
		m.fails--
		m.got = append(m.got, msgs[:len(msgs)/2]...) // half went out before the failure
		return errors.New("unavailable")
	}
	m.got = append(m.got, msgs...)
	return nil
}

func cursors(ms []fanout.Message) map[uint64]int {
	out := map[uint64]int{}
	for _, m := range ms {
		c, _ := strconv.ParseUint(m.Attributes["cursor"], 10, 64)
		out[c]++
	}
	return out
}

// drainAll drains until the feed is caught up, retrying failures from the stored cursor as
// the next task or cron run would, and fails the test after many failures in a row.
func drainAll(t *testing.T, p *fanout.Publisher) {
	t.Helper()
	for failures := 0; ; {
		n, err := p.Drain(context.Background(), 1000)
		switch {
		case err != nil:
			if failures++; failures > 10 {
				t.Fatalf("drain: %v", err)
			}
		case n == 0:
			return
		}
	}
}

// Every record is published at least once, failures are retried from the stored cursor,
// and the cursor ends at the head.
func TestPublishesEveryRecordAtLeastOnce(t *testing.T) {
	s := newStore(t)
	head := scenario(t, s, 4)
	topic := &memTopic{fails: 2}
	p := fanout.New(s, topic, fanout.Options{Batch: 5})
	ctx := context.Background()
	if _, err := p.Drain(ctx, 1000); err == nil {
		t.Fatal("a failed publish was not reported")
	}
	drainAll(t, p)
	if c, _ := p.Published(ctx); c != head {
		t.Fatalf("published up to %d, want the head %d", c, head)
	}
	topic.mu.Lock()
	seen := cursors(topic.got)
	topic.mu.Unlock()
	for c := uint64(1); c <= head; c++ {
		if seen[c] == 0 {
			t.Errorf("record %d never published", c)
		}
	}
	// A record written later goes out with the next drain.
	if err := s.ReplaceMembers(ctx, "g0", nil, "e", time.Now()); err != nil {
		t.Fatal(err)
	}
	drainAll(t, p)
	if c, _ := p.Published(ctx); c != head+1 {
		t.Errorf("published up to %d after a later write, want %d", c, head+1)
	}
}

// A subscriber that never answers holds the publisher, not the sync: the store takes
// writes while a drain is blocked on the topic, and they go out once it is free.
func TestBlockedTopicNeverSlowsTheStore(t *testing.T) {
	s := newStore(t)
	topic := &memTopic{block: make(chan struct{})}
	p := fanout.New(s, topic, fanout.Options{Batch: 3})
	ctx := context.Background()
	first := scenario(t, s, 1)
	done := make(chan error)
	go func() { _, err := p.Drain(ctx, 1000); done <- err }()
	head := scenario(t, s, 10) // every write returns although the drain is blocked
	if head <= first {
		t.Fatalf("head %d after more writes, was %d", head, first)
	}
	close(topic.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	drainAll(t, p)
	if c, _ := p.Published(ctx); c != head {
		t.Errorf("published up to %d, want the head %d", c, head)
	}
}

func TestMessageCarriesTheRecord(t *testing.T) {
	c := greep.Change{Cursor: 7, GroupID: "g1", Group: "eng@example.com", Kind: greep.ChangeAdded, After: greep.MemberValue(member("a"))}
	m, err := fanout.NewMessage(c)
	if err != nil {
		t.Fatal(err)
	}
	var back greep.Change
	if err := json.Unmarshal(m.Data, &back); err != nil || back.Cursor != 7 || back.After.ID != "a" {
		t.Errorf("data %s: %v", m.Data, err)
	}
	if m.OrderingKey != "g1" || m.Attributes["cursor"] != "7" || m.Attributes["kind"] != "added" || m.Attributes["group"] != "eng@example.com" {
		t.Errorf("message %+v", m)
	}
}

// emulator skips without a Pub/Sub emulator, and fails under CI, where make test starts one.
func emulator(t *testing.T) {
	t.Helper()
	if os.Getenv("PUBSUB_EMULATOR_HOST") != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("PUBSUB_EMULATOR_HOST is not set under CI: run the tests with scripts/with-pubsub-emulator.sh")
	}
	t.Skip("PUBSUB_EMULATOR_HOST is not set; run with scripts/with-pubsub-emulator.sh")
}

// Must-show 2: against the real Pub/Sub emulator, every change of a scenario arrives on
// an ordered subscription, in order per group.
func TestEmulatorDeliversEveryChangeInOrderPerGroup(t *testing.T) {
	emulator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := pubsub.NewClient(ctx, "greep-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := fmt.Sprintf("changes-%d", time.Now().UnixNano())
	if err := fanout.EnsureTopic(ctx, c, id); err != nil {
		t.Fatal(err)
	}
	if err := fanout.EnsureTopic(ctx, c, id); err != nil {
		t.Fatalf("a second EnsureTopic: %v", err)
	}
	sub := "projects/greep-test/subscriptions/" + id
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: sub, Topic: "projects/greep-test/topics/" + id, EnableMessageOrdering: true, AckDeadlineSeconds: 60,
	}); err != nil {
		t.Fatal(err)
	}

	s := newStore(t)
	topic := fanout.NewPubSubTopic(c, id)
	defer topic.Stop()
	p := fanout.New(s, topic, fanout.Options{Batch: 7})
	head := scenario(t, s, 6)
	drainAll(t, p)

	var (
		mu    sync.Mutex
		seen  = map[uint64]bool{}
		last  = map[string]uint64{} // group -> last cursor received
		fault []string
	)
	rctx, rcancel := context.WithCancel(ctx)
	go func() {
		defer rcancel() // ends Receive: every record arrived, or the test's deadline passed
		_ = wait.Poll(3*time.Minute, func() error {
			mu.Lock()
			defer mu.Unlock()
			if len(seen) < int(head) && rctx.Err() == nil {
				return errors.New("records missing")
			}
			return nil
		})
	}()
	err = c.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		cur, _ := strconv.ParseUint(m.Attributes["cursor"], 10, 64)
		mu.Lock()
		defer mu.Unlock()
		if !seen[cur] { // at least once: a redelivery is not a fault
			if cur < last[m.OrderingKey] {
				fault = append(fault, fmt.Sprintf("group %s: record %d after %d", m.OrderingKey, cur, last[m.OrderingKey]))
			}
			last[m.OrderingKey] = cur
			seen[cur] = true
		}
		m.Ack()
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range fault {
		t.Error(f)
	}
	for cur := uint64(1); cur <= head; cur++ {
		if !seen[cur] {
			t.Errorf("record %d never arrived", cur)
		}
	}
	if len(last) != 3 {
		t.Errorf("ordering keys seen: %v, want the 3 groups", last)
	}
}
