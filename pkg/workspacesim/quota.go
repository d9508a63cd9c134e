package workspacesim

import (
	"net/http"
	"time"
)

// The APIs the simulator serves, as keys of Config.QuotaPerDay and Stats.UsedToday.
const (
	APIDirectory      = "directory"
	APIGroupsSettings = "groupssettings"
	APIReports        = "reports"
)

// DefaultQuotaPerMinute is Google's documented default per-user short-window quota.
const DefaultQuotaPerMinute = 2400

type windowKey struct{ api, user string }

type window struct {
	minute int64
	n      int64
}

// quotas counts calls per API: per user per calendar minute, and per quota day.
type quotas struct {
	perMinute int64            // <= 0: unlimited
	perDay    map[string]int64 // missing or <= 0: unlimited
	windows   map[windowKey]*window
	day       string
	used      map[string]int64
}

func newQuotas(perMinute int64, perDay map[string]int64) *quotas {
	pd := make(map[string]int64, len(perDay))
	for k, v := range perDay {
		pd[k] = v
	}
	return &quotas{perMinute: perMinute, perDay: pd, windows: map[windowKey]*window{}, used: map[string]int64{}}
}

func (q *quotas) roll(now time.Time) {
	if d := quotaDay(now); d != q.day {
		q.day = d
		clear(q.used)
	}
}

// check says whether a call may be answered now, without charging it.
func (q *quotas) check(api, user string, now time.Time) *apiError {
	q.roll(now)
	if limit := q.perDay[api]; limit > 0 && q.used[api] >= limit {
		return errorf(http.StatusForbidden, "dailyLimitExceeded",
			"Daily Limit Exceeded. The quota will be reset at midnight Pacific Time (PT), at %s.",
			nextReset(now).UTC().Format(time.RFC3339))
	}
	if q.perMinute > 0 {
		w := q.windows[windowKey{api, user}]
		if w != nil && w.minute == now.Unix()/60 && w.n >= q.perMinute {
			return errorf(http.StatusForbidden, "userRateLimitExceeded",
				"Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service '%s' for consumer %q (limit %d).",
				api, user, q.perMinute)
		}
	}
	return nil
}

// charge counts an answered call.
func (q *quotas) charge(api, user string, now time.Time) {
	q.roll(now)
	q.used[api]++
	k := windowKey{api, user}
	w := q.windows[k]
	if w == nil {
		w = &window{}
		q.windows[k] = w
	}
	if m := now.Unix() / 60; w.minute != m {
		w.minute, w.n = m, 0
	}
	w.n++
}
