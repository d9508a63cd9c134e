package bench

import (
	"testing"
)

const wrkReport = `Running 2s test @ http://127.0.0.1:18777/a?b=c
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.08ms   11.02ms  85.00ms   92.98%
    Req/Sec     5.86k     4.18k   14.11k    62.50%
  Latency Distribution
     50%  426.00us
     75%    2.37ms
     90%    9.07ms
     99%   65.46ms
  23409 requests in 2.03s, 516.55MB read
Requests/sec:  11543.39
Transfer/sec:    254.72MB
`

func TestParseWrk(t *testing.T) {
	f, err := parseWrk([]byte(wrkReport))
	if err != nil {
		t.Fatal(err)
	}
	if f != (LoadFigures{Requests: 23409, ReqPerSec: 11543.39, P50Ms: 0.43, P99Ms: 65.46}) {
		t.Errorf("parsed %+v", f)
	}
	withErrors := wrkReport + "  Socket errors: connect 0, read 3, write 0, timeout 2\n  Non-2xx or 3xx responses: 409\n"
	f, err = parseWrk([]byte(withErrors))
	if err != nil {
		t.Fatal(err)
	}
	if f.Requests != 23000 || f.Errors != 414 || f.ReqPerSec != 11341.7 {
		t.Errorf("with errors: %+v, want 23000 answered, 414 errors, 11341.7/s", f)
	}
	for _, bad := range []string{"", "Requests/sec: 12\n", wrkReport[:200], "  12 requests in 1s\nRequests/sec: x\n"} {
		if _, err := parseWrk([]byte(bad)); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
	if d, err := wrkDuration("1.50s"); err != nil || d.Milliseconds() != 1500 {
		t.Errorf("1.50s: %v %v", d, err)
	}
}

func FuzzParseWrk(f *testing.F) {
	f.Add([]byte(wrkReport))
	f.Add([]byte(wrkReport + "  Non-2xx or 3xx responses: 99999999\n"))
	f.Add([]byte("     99%  NaNms\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fig, err := parseWrk(b)
		if err != nil {
			return
		}
		if fig.Requests < 0 || fig.Errors < 0 || fig.ReqPerSec < 0 || fig.P50Ms < 0 || fig.P99Ms < 0 {
			t.Errorf("negative figures %+v from %q", fig, b)
		}
	})
}
