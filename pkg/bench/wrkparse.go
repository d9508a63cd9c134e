package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseWrk reads wrk's --latency report: the requests and their rate, the 50% and 99%
// latencies, and the errors it counted (non-2xx answers, socket errors).
func parseWrk(out []byte) (LoadFigures, error) {
	var f LoadFigures
	var non2xx int64
	var seen struct{ requests, rate, p50, p99 bool }
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 4 && fields[1] == "requests" && fields[2] == "in":
			n, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil || n < 0 {
				return f, fmt.Errorf("wrk: bad request count %q", fields[0])
			}
			f.Requests, seen.requests = n, true
		case len(fields) == 2 && fields[0] == "Requests/sec:":
			r, err := strconv.ParseFloat(fields[1], 64)
			if err != nil || r < 0 || r != r {
				return f, fmt.Errorf("wrk: bad rate %q", fields[1])
			}
			f.ReqPerSec, seen.rate = round(r), true
		case len(fields) == 2 && (fields[0] == "50%" || fields[0] == "99%"):
			d, err := wrkDuration(fields[1])
			if err != nil {
				return f, err
			}
			ms := round(float64(d) / float64(time.Millisecond))
			if fields[0] == "50%" {
				f.P50Ms, seen.p50 = ms, true
			} else {
				f.P99Ms, seen.p99 = ms, true
			}
		case len(fields) == 5 && strings.Join(fields[:4], " ") == "Non-2xx or 3xx responses:":
			n, err := strconv.ParseInt(fields[4], 10, 64)
			if err != nil || n < 0 {
				return f, fmt.Errorf("wrk: bad non-2xx count %q", fields[4])
			}
			non2xx = n
		case len(fields) >= 2 && fields[0] == "Socket" && fields[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(fields); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(fields[i+1], ","), 10, 64)
				if err != nil || n < 0 {
					return f, fmt.Errorf("wrk: bad socket error count %q", fields[i+1])
				}
				f.Errors += n
			}
		}
	}
	if !seen.requests || !seen.rate || !seen.p50 || !seen.p99 {
		return f, fmt.Errorf("wrk: no request count, rate or 50%%/99%% latency in its report (was --latency given?)")
	}
	// wrk's count and rate include the answers that were not 2xx: only the others are
	// answered reads.
	non2xx = min(non2xx, f.Requests)
	if f.Requests > 0 {
		f.ReqPerSec = round(f.ReqPerSec * float64(f.Requests-non2xx) / float64(f.Requests))
	}
	f.Requests -= non2xx
	f.Errors += non2xx
	return f, nil
}

// wrkDuration parses wrk's latencies: a number and us, ms, s, m or h.
func wrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 0 || x != x || x > 1e6 {
				return 0, fmt.Errorf("wrk: bad latency %q", s)
			}
			return time.Duration(x * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("wrk: bad latency %q", s)
}
