package local

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/greephq/greep/pkg/fanout"
	"github.com/greephq/greep/pkg/wiring"
)

// The Pub/Sub emulator's project and topic greep local publishes the change feed to.
const (
	PubSubProject = "greep-local"
	PubSubTopic   = "greep-changes"
)

// connectFanout points the runtime at the Pub/Sub emulator at cfg.PubSub, so the
// directory service publishes the change feed after each task as it does in production
// with GREEP_PUBSUB_TOPIC; without --pubsub the feed is HTTP only.
func (a *App) connectFanout(ctx context.Context, rt *wiring.Runtime) error {
	if a.cfg.PubSub == "" {
		return nil
	}
	opts := []option.ClientOption{
		option.WithEndpoint(a.cfg.PubSub), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
	c, err := pubsub.NewClient(ctx, PubSubProject, opts...)
	if err != nil {
		return fmt.Errorf("--pubsub %s: %w", a.cfg.PubSub, err)
	}
	err = fanout.EnsureTopic(ctx, c, PubSubTopic)
	c.Close()
	if err != nil {
		return fmt.Errorf("--pubsub %s: topic %s: %w", a.cfg.PubSub, PubSubTopic, err)
	}
	stop, err := rt.ConnectPubSub(ctx, "projects/"+PubSubProject+"/topics/"+PubSubTopic, opts...)
	if err != nil {
		return fmt.Errorf("--pubsub %s: %w", a.cfg.PubSub, err)
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		<-a.stop
		stop()
	}()
	return nil
}
