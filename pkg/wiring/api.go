package wiring

import (
	"context"
	"net/http"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/metrics"
)

// NewAPI builds the default service: the read API, the Directory-compatible surface and
// the dashboard, authenticating with authn (a static token locally, ID tokens in
// production). Its page tokens are signed with the store's shared key, so every instance
// and every restart accepts them.
func NewAPI(ctx context.Context, rt *Runtime, authn auth.Authenticator) (*Service, error) {
	key, err := api.SharedPageTokenKey(ctx, rt.Store)
	if err != nil {
		return nil, err
	}
	rt.History = metrics.NewRing()
	rt.Metrics.Listen(rt.History.Feed)
	h, err := api.New(api.Config{
		Store: rt.Store, Status: status{rt}, Metrics: rt.Metrics.Handler(), Auth: authn, Logger: rt.Log.Named("api"),
		Now: rt.Now, PageTokenKey: key, History: rt.History, HistoryRetention: rt.HistoryRetention, Pprof: rt.Pprof,
	})
	if err != nil {
		return nil, err
	}
	// One path besides the API's own: a second router in front would route every read
	// twice.
	cron := cronAlerts(rt)
	r := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathCronAlerts {
			cron.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	return &Service{Name: "default", Routes: []string{"/"}, Handler: rt.recordingFigures("default", r)}, nil
}

// status gives the read API the queues' and the guard's live figures.
type status struct{ rt *Runtime }

func (s status) QueueStats(ctx context.Context) (map[string]greep.QueueStat, error) {
	if s.rt.QueueStats == nil {
		return nil, nil
	}
	return s.rt.QueueStats(ctx)
}

func (s status) QuotaUsage(ctx context.Context) (map[string]greep.QuotaUsage, error) {
	return s.rt.Quota.Usage(ctx)
}
