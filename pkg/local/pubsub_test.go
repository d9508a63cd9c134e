package local_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/fanout"
	"github.com/greephq/greep/pkg/local"
)

// greep local --pubsub publishes its whole feed (here: the initial full sync) to the
// emulator's topic.
func TestLocalPublishesTheFeed(t *testing.T) {
	host := os.Getenv("PUBSUB_EMULATOR_HOST")
	if host == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PUBSUB_EMULATOR_HOST is not set under CI: run the tests with scripts/with-pubsub-emulator.sh")
		}
		t.Skip("PUBSUB_EMULATOR_HOST is not set; run with scripts/with-pubsub-emulator.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := pubsub.NewClient(ctx, local.PubSubProject, option.WithEndpoint(host), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := fanout.EnsureTopic(ctx, c, local.PubSubTopic); err != nil {
		t.Fatal(err)
	}
	sub := "projects/" + local.PubSubProject + "/subscriptions/local-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: sub, Topic: "projects/" + local.PubSubProject + "/topics/" + local.PubSubTopic, EnableMessageOrdering: true,
	}); err != nil {
		t.Fatal(err)
	}

	sim := startSim(t, 30)
	cfg := config(sim, t.TempDir())
	cfg.PubSub = host
	app, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	waitSynced(t, app)
	l, err := app.Store.ChangeLog(ctx)
	if err != nil || l.Head == 0 {
		t.Fatalf("change log %+v %v", l, err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	go func() {
		defer rcancel() // ends Receive: every record arrived, or the test's deadline passed
		_ = wait.Poll(3*time.Minute, func() error {
			mu.Lock()
			defer mu.Unlock()
			if uint64(len(seen)) < l.Head && rctx.Err() == nil {
				return errors.New("records missing")
			}
			return nil
		})
	}()
	c.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		seen[m.Attributes["cursor"]] = true
		mu.Unlock()
		m.Ack()
	})
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(seen)) < l.Head {
		t.Errorf("%d of %d records arrived before the deadline", len(seen), l.Head)
	}
}
