package main

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/queue/cloudtasks"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/service"
)

// lanesRoute is the lanes controller's cron path (deploy/cron.yaml, every minute). It is
// the default service's because that service already reads the queues' stats, and
// dispatch.yaml sends it every path no other service claims. greep local has no such
// route: its dispatcher lends the rate itself (pkg/queue/local).
const lanesRoute = "GET /cron/lanes"

// mountLanes serves the lanes controller (docs/quota.md) on mux: the sweep queues' rates
// set from the push queues' stats, stats read through qs. close releases its client.
func mountLanes(ctx context.Context, mux *http.ServeMux, cfg Config, qcfg *queueconfig.Config, qs *cloudtasks.QueueStats, log *zap.Logger) (close func(), err error) {
	client, err := cloudtasks.NewClient(ctx, cfg.TasksEndpoint)
	if err != nil {
		return nil, err
	}
	lanes, err := cloudtasks.NewLanes(client, qs.Stats, cloudtasks.Location{Project: cfg.Project, Location: cfg.Location}, qcfg, log)
	if err != nil {
		client.Close()
		return nil, err
	}
	mux.Handle(lanesRoute, queue.OnlyCron(service.TrustTaskHeaders(), false)(lanes))
	return func() { _ = client.Close() }, nil
}
