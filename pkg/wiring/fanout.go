package wiring

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"go.uber.org/zap"
	"google.golang.org/api/option"

	"github.com/greephq/greep/pkg/fanout"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
)

// PublishPath is the cron path that publishes what a stopped instance left behind.
const PublishPath = "/cron/directory/publish"

// publishBound is how many records one task or cron run publishes at most, and
// publishTimeout how long it may take: a large backlog (a first full sync) drains over
// several runs rather than holding one request.
const (
	publishBound   = 5000
	publishTimeout = 30 * time.Second
)

// ConnectPubSub makes the directory service publish the change feed to topic
// (projects/P/topics/T). The client reaches PUBSUB_EMULATOR_HOST when it is set, as
// Google's client does; opts add to it (greep local's --pubsub endpoint). stop flushes
// and closes the client: greep local calls it at shutdown, a production instance just
// ends.
func (rt *Runtime) ConnectPubSub(ctx context.Context, topic string, opts ...option.ClientOption) (stop func(), err error) {
	project, err := TopicProject(topic)
	if err != nil {
		return nil, err
	}
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("pub/sub topic %s: %w", topic, err)
	}
	t := fanout.NewPubSubTopic(c, topic)
	rt.Topic = t
	rt.Log.Info("publishing the change feed", zap.String("topic", topic))
	return func() { t.Stop(); c.Close() }, nil
}

// TopicProject is the project of a full topic name, or why it is none.
func TopicProject(topic string) (string, error) {
	p := strings.Split(topic, "/")
	if len(p) != 4 || p[0] != "projects" || p[1] == "" || p[2] != "topics" || p[3] == "" {
		return "", fmt.Errorf("pub/sub topic %q: want projects/PROJECT/topics/TOPIC", topic)
	}
	return p[1], nil
}

// publishing serves next and, when the runtime has a topic, publishes after every
// request that moved the feed's head (a task that committed change records), outside
// the snapshot's transaction. A publish failure is logged and left to the next task or
// the cron: the task itself succeeded, and failing it would only redo its Google call.
type publishing struct {
	next  http.Handler
	store greep.Store
	pub   *fanout.Publisher // nil without a topic
	log   *zap.Logger
	// seen is the head the last drain reached: a request that leaves the head there
	// costs one read.
	seen atomic.Uint64
}

func newPublishing(rt *Runtime, next http.Handler) http.Handler {
	p := &publishing{next: next, store: rt.Store, log: rt.Log.Named("fanout")}
	if rt.Topic != nil {
		p.pub = fanout.New(rt.Store, rt.Topic, fanout.Options{Logger: p.log})
	}
	mux := &Routes{}
	mux.Handle(PublishPath, queue.OnlyCron(rt.TrustTaskHeaders, false)(http.HandlerFunc(p.cron)))
	mux.Handle("/", http.HandlerFunc(p.serve))
	return mux
}

func (p *publishing) serve(w http.ResponseWriter, r *http.Request) {
	p.next.ServeHTTP(w, r)
	if p.pub == nil {
		return
	}
	l, err := p.store.ChangeLog(r.Context())
	if err != nil {
		p.log.Warn("reading the change feed's head; the next task or the cron publishes", zap.Error(err))
		return
	}
	if l.Head > p.seen.Load() {
		p.drain(r.Context(), l.Head)
	}
}

// cron is the safety net: it publishes whatever an instance stopped mid-publish left.
func (p *publishing) cron(w http.ResponseWriter, r *http.Request) {
	if p.pub == nil {
		w.WriteHeader(http.StatusNoContent) // no topic: the feed is HTTP only
		return
	}
	n, err := p.drain(r.Context(), 0)
	if err != nil {
		// Cron retries a failed run per cron.yaml; the next task publishes too.
		http.Error(w, "publishing the change feed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "published %d records\n", n)
}

func (p *publishing) drain(ctx context.Context, head uint64) (int, error) {
	// The request's context ends with the response; the publish outlives it, bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	n, err := p.pub.Drain(ctx, publishBound)
	if err != nil {
		p.log.Warn("publishing the change feed; left for the next task or the cron", zap.Int("published", n), zap.Error(err))
		return n, err
	}
	if c, err := p.pub.Published(ctx); err == nil && c >= head {
		p.seen.Store(c)
	}
	return n, nil
}
