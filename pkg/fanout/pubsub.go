package fanout

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// PubSubTopic is a Cloud Pub/Sub topic with message ordering on.
type PubSubTopic struct {
	p *pubsub.Publisher
}

// NewPubSubTopic publishes to topic (an id in the client's project, or a full name).
// The client reaches the emulator when PUBSUB_EMULATOR_HOST is set, as Google's tools do.
func NewPubSubTopic(c *pubsub.Client, topic string) *PubSubTopic {
	p := c.Publisher(topic)
	p.EnableMessageOrdering = true
	return &PubSubTopic{p: p}
}

// EnsureTopic creates the topic unless it exists (greep local and tests; production
// creates it with the deployment).
func EnsureTopic(ctx context.Context, c *pubsub.Client, topic string) error {
	name := fmt.Sprintf("projects/%s/topics/%s", c.Project(), topic)
	_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}

// Publish implements Topic. A failed message pauses its ordering key in the client
// (so no later message of the group overtakes it); the key is resumed here, and the
// caller publishes again from its cursor.
func (t *PubSubTopic) Publish(ctx context.Context, msgs []Message) error {
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		results[i] = t.p.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey})
	}
	var errs []error
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			t.p.ResumePublish(msgs[i].OrderingKey)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stop flushes and stops the publisher.
func (t *PubSubTopic) Stop() { t.p.Stop() }
