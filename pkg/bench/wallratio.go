package bench

import "github.com/greephq/greep/pkg/queueconfig"

// usableRate is the usable rate, per simulated second, of the short window api's calls
// count in (queueconfig's pool), 0 if no lane spends api.
func usableRate(q *queueconfig.Config, api string) float64 {
	for _, name := range q.LaneNames() {
		if l, ok := q.Lane(name); ok && l.API == api {
			return l.PoolPerSecond()
		}
	}
	return 0
}

// wallRatio is how much longer a sync took than its calls need at the API's usable rate:
// seconds ÷ (calls ÷ rate), both on the quota's (simulated) clock. 1 is the floor the
// quota sets; the target is at most 1.05.
func wallRatio(seconds float64, calls int64, rate float64) (float64, bool) {
	if calls <= 0 || rate <= 0 || seconds <= 0 {
		return 0, false
	}
	return round4(seconds / (float64(calls) / rate)), true
}
