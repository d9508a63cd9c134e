package bench

import (
	"math"
	"slices"
	"time"
)

// Freshness summarizes how long changes took to become visible, in simulated seconds.
// Unseen counts the changes never seen by the end of the run; they are not in the
// percentiles, so a run with unseen changes is worse than its percentiles say.
type Freshness struct {
	Changes int     `json:"changes"`
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	Max     float64 `json:"max"`
	Unseen  int     `json:"unseen"`
}

// freshnessOf summarizes the lags of the changes seen and the count of those unseen.
func freshnessOf(lags []time.Duration, unseen int) *Freshness {
	f := &Freshness{Changes: len(lags) + unseen, Unseen: unseen}
	if len(lags) == 0 {
		return f
	}
	s := slices.Clone(lags)
	slices.Sort(s)
	f.P50 = round(percentile(s, 0.50).Seconds())
	f.P95 = round(percentile(s, 0.95).Seconds())
	f.Max = round(s[len(s)-1].Seconds())
	return f
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// round keeps two decimals: the figures are read by people.
func round(x float64) float64 { return math.Round(x*100) / 100 }
