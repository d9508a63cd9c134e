package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/greephq/greep/pkg/fanout"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/wiring"
	"github.com/greephq/greep/pkg/wiring/wiringtest"
)

// refresh runs a directory refresh task of group on svc as Cloud Tasks delivers it, and
// returns its status.
func refresh(t *testing.T, svc http.Handler, group string) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, tasks.PathDirectoryRefresh, strings.NewReader(`{"group":"`+group+`","reason":"test"}`))
	r.Header.Set(queue.HeaderQueueName, tasks.QueueDirectory)
	w := httptest.NewRecorder()
	svc.ServeHTTP(w, r)
	return w.Code
}

// A change committed by the directory service's task handler arrives on a subscription
// of GREEP_PUBSUB_TOPIC, with its cursor attribute and the group as ordering key.
func TestTaskPublishesToPubSub(t *testing.T) {
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PUBSUB_EMULATOR_HOST is not set under CI: run the tests with scripts/with-pubsub-emulator.sh")
		}
		t.Skip("PUBSUB_EMULATOR_HOST is not set; run with scripts/with-pubsub-emulator.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := strconv.FormatInt(time.Now().UnixNano(), 10)
	topic := "projects/greep-test/topics/directory-" + id
	cfg, err := parseConfig([]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "--pubsub-topic", topic})
	if err != nil {
		t.Fatal(err)
	}

	c, err := pubsub.NewClient(ctx, "greep-test") // reaches PUBSUB_EMULATOR_HOST
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	sub := "projects/greep-test/subscriptions/directory-" + id
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, EnableMessageOrdering: true}); err != nil {
		t.Fatal(err)
	}

	rt, sim := wiringtest.RuntimeSim(t)
	rt.TrustTaskHeaders = true
	if _, err := rt.ConnectPubSub(ctx, cfg.PubSubTopic); err != nil {
		t.Fatal(err)
	}
	svc, err := build(rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := sim.Sim.Truth("")
	if err != nil || len(truth.Groups) == 0 {
		t.Fatalf("truth %+v, %v", truth, err)
	}
	g := truth.Groups[0]
	if code := refresh(t, svc.Handler, g.Email); code/100 != 2 {
		t.Fatalf("refresh task answered %d", code)
	}
	changes, head, err := rt.Store.Changes(ctx, greep.ChangeQuery{})
	if err != nil || len(changes) == 0 {
		t.Fatalf("the task committed no change records (%v)", err)
	}

	var (
		mu  sync.Mutex
		got = map[string]*pubsub.Message{}
	)
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	err = c.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		got[m.Attributes["cursor"]] = m
		if uint64(len(got)) >= head {
			rcancel()
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ch := range changes {
		m, ok := got[strconv.FormatUint(ch.Cursor, 10)]
		if !ok {
			t.Errorf("record %d (%s %s) never arrived", ch.Cursor, ch.Kind, ch.Group)
			continue
		}
		if m.OrderingKey != g.ID || ch.GroupID != g.ID {
			t.Errorf("record %d: ordering key %q, want the group's id %q", ch.Cursor, m.OrderingKey, g.ID)
		}
	}
}

// downTopic refuses every message while down, as an unreachable Pub/Sub does.
type downTopic struct {
	down atomic.Bool
	sent atomic.Int64
}

func (d *downTopic) Publish(_ context.Context, msgs []fanout.Message) error {
	if d.down.Load() {
		return errors.New("pub/sub unavailable")
	}
	d.sent.Add(int64(len(msgs)))
	return nil
}

// A publish failure never fails the task: the refresh succeeds, its records stay in the
// feed unpublished, and the cron publishes them once Pub/Sub is back.
func TestPublishFailureNeverFailsTheTask(t *testing.T) {
	rt, sim := wiringtest.RuntimeSim(t)
	rt.TrustTaskHeaders = true
	topic := &downTopic{}
	topic.down.Store(true)
	rt.Topic = topic
	cfg, err := parseConfig([]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := build(rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := sim.Sim.Truth("")
	if err != nil || len(truth.Groups) == 0 {
		t.Fatalf("truth %+v, %v", truth, err)
	}
	if code := refresh(t, svc.Handler, truth.Groups[0].Email); code/100 != 2 {
		t.Fatalf("refresh task answered %d with Pub/Sub down", code)
	}
	ctx := context.Background()
	l, err := rt.Store.ChangeLog(ctx)
	if err != nil || l.Head == 0 {
		t.Fatalf("change log %+v, %v: the task committed nothing", l, err)
	}
	var st struct {
		Cursor uint64 `json:"cursor,string"`
	}
	if _, err := greep.LoadState(ctx, rt.Store, fanout.StateName, &st); err != nil || st.Cursor != 0 {
		t.Fatalf("published cursor %d (%v) after failed publishes, want 0", st.Cursor, err)
	}

	cron := func() int {
		r := httptest.NewRequest(http.MethodGet, wiring.PublishPath, nil)
		r.Header.Set(queue.HeaderCron, "true")
		w := httptest.NewRecorder()
		svc.Handler.ServeHTTP(w, r)
		return w.Code
	}
	if code := cron(); code != http.StatusServiceUnavailable {
		t.Errorf("cron with Pub/Sub down answered %d, want 503 so cron retries", code)
	}
	topic.down.Store(false)
	if code := cron(); code != http.StatusOK {
		t.Fatalf("cron with Pub/Sub back answered %d", code)
	}
	if _, err := greep.LoadState(ctx, rt.Store, fanout.StateName, &st); err != nil || st.Cursor != l.Head || topic.sent.Load() != int64(l.Head) {
		t.Errorf("after the cron: cursor %d (%v), %d sent; want both at the head %d", st.Cursor, err, topic.sent.Load(), l.Head)
	}
}
