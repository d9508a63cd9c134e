package bench

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The read scenario measures Greep's read API against a staticServer answering the same
// bytes, with the same client, the same connections and the same duration, taking turns
// in the same run: the ratio of the two throughputs is what Greep's own work costs, on
// whatever machine and under whatever load the run had.

// readEndpoint is one answer the scenario loads.
type readEndpoint struct{ name, uri string }

// readConnections are the connection counts each endpoint is loaded with.
var readConnections = []int{8, 64}

// readRounds is how many turns each side takes per endpoint and connection count, the
// order swapped each round, so that a change in the machine's load during the run falls
// on both sides.
const readRounds = 6

// VsStatic is one endpoint at one connection count, Greep and the static server.
type VsStatic struct {
	Greep  LoadFigures `json:"greep"`
	Static LoadFigures `json:"static"`
	// Ratio is Greep's answered reads per second over the static server's.
	Ratio float64 `json:"ratio"`
}

// compareStatic loads each endpoint on Greep (base) and on a static server holding
// Greep's answers, each side for each in all, and returns the figures by endpoint name
// and connection count.
func compareStatic(ctx context.Context, client readClient, base, token string, eps []readEndpoint, each time.Duration) (map[string]map[string]VsStatic, error) {
	uris := make([]string, len(eps))
	for i, ep := range eps {
		uris[i] = ep.uri
	}
	static, err := captureStatic(ctx, base, token, uris)
	if err != nil {
		return nil, err
	}
	defer static.Close()
	out := map[string]map[string]VsStatic{}
	turn := each / readRounds
	for _, ep := range eps {
		size := len(static.body(ep.uri))
		out[ep.name] = map[string]VsStatic{}
		for _, conns := range readConnections {
			var greep, stat []LoadFigures
			for r := range readRounds {
				sides := []struct {
					url  string
					figs *[]LoadFigures
				}{{base + ep.uri, &greep}, {static.URL + ep.uri, &stat}}
				if r%2 == 1 {
					slices.Reverse(sides)
				}
				for _, side := range sides {
					f, err := client.load(ctx, side.url, token, conns, turn, size)
					if err != nil {
						return nil, err
					}
					*side.figs = append(*side.figs, f)
				}
			}
			v := VsStatic{Greep: combine(greep), Static: combine(stat)}
			if v.Static.ReqPerSec > 0 {
				v.Ratio = round(v.Greep.ReqPerSec / v.Static.ReqPerSec)
			}
			out[ep.name][strconv.Itoa(conns)] = v
		}
	}
	return out, nil
}

// combine adds up rounds: requests and errors summed, the rate over their summed
// durations, the latency quantiles the median round's.
func combine(rounds []LoadFigures) LoadFigures {
	var c LoadFigures
	var secs float64
	for _, f := range rounds {
		c.Requests += f.Requests
		c.Errors += f.Errors
		if f.ReqPerSec > 0 {
			secs += float64(f.Requests) / f.ReqPerSec
		}
	}
	if secs > 0 {
		c.ReqPerSec = round(float64(c.Requests) / secs)
	}
	median := func(get func(LoadFigures) float64) float64 {
		v := make([]float64, len(rounds))
		for i, f := range rounds {
			v[i] = get(f)
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		return round((v[(len(v)-1)/2] + v[len(v)/2]) / 2)
	}
	c.P50Ms = median(func(f LoadFigures) float64 { return f.P50Ms })
	c.P99Ms = median(func(f LoadFigures) float64 { return f.P99Ms })
	return c
}

// loadAverage is the machine's one-minute load average ("" where /proc has none): how
// busy the machine was around the figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
