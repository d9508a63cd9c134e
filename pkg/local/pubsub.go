package local

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"go.uber.org/zap"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/greephq/greep/pkg/fanout"
)

// The Pub/Sub emulator's project and topic greep local publishes the change feed to.
const (
	PubSubProject = "greep-local"
	PubSubTopic   = "greep-changes"
)

// startFanout publishes the change feed to the Pub/Sub emulator at cfg.PubSub, in the
// background until the App stops; without --pubsub the feed is HTTP only.
func (a *App) startFanout(ctx context.Context) error {
	if a.cfg.PubSub == "" {
		return nil
	}
	c, err := pubsub.NewClient(ctx, PubSubProject,
		option.WithEndpoint(a.cfg.PubSub), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return fmt.Errorf("--pubsub %s: %w", a.cfg.PubSub, err)
	}
	if err := fanout.EnsureTopic(ctx, c, PubSubTopic); err != nil {
		c.Close()
		return fmt.Errorf("--pubsub %s: topic %s: %w", a.cfg.PubSub, PubSubTopic, err)
	}
	topic := fanout.NewPubSubTopic(c, PubSubTopic)
	p := fanout.New(a.Store, topic, fanout.Options{Logger: a.log})
	run, cancel := context.WithCancel(context.Background())
	a.bg.Add(2)
	go func() {
		defer a.bg.Done()
		<-a.stop
		cancel()
	}()
	go func() {
		defer a.bg.Done()
		defer c.Close()
		defer topic.Stop()
		p.Run(run)
	}()
	a.log.Info("publishing the change feed", zap.String("pubsub", a.cfg.PubSub), zap.String("topic", "projects/"+PubSubProject+"/topics/"+PubSubTopic))
	return nil
}
