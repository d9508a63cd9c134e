package api

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Sign-in attempts are limited per client address and overall: the form checks tokens,
// so unlimited it would be a way to guess them, and in production each attempt may cost an
// ID token verification. The limits are far above what a person signing in needs.
const (
	loginAddrEvery   = 6 * time.Second // 10 a minute per address, after a burst of 10
	loginAddrBurst   = 10
	loginGlobalRate  = 20 // a second, after a burst of 100
	loginGlobalBurst = 100
	// loginMaxAddrs bounds the addresses remembered; beyond it, addresses whose allowance
	// has refilled are forgotten (nothing is lost by that).
	loginMaxAddrs = 10_000
)

type loginLimiter struct {
	now    func() time.Time
	global *rate.Limiter

	mu    sync.Mutex
	addrs map[string]*rate.Limiter
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, global: rate.NewLimiter(loginGlobalRate, loginGlobalBurst), addrs: map[string]*rate.Limiter{}}
}

// allow takes one attempt from addr's allowance and the global one, or reports how long
// until one would be granted.
func (l *loginLimiter) allow(addr string) (time.Duration, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.addrs[addr]
	if lim == nil {
		if len(l.addrs) >= loginMaxAddrs {
			for a, al := range l.addrs {
				if al.TokensAt(now) >= loginAddrBurst {
					delete(l.addrs, a)
				}
			}
			if len(l.addrs) >= loginMaxAddrs {
				clear(l.addrs) // the global limit still holds
			}
		}
		lim = rate.NewLimiter(rate.Every(loginAddrEvery), loginAddrBurst)
		l.addrs[addr] = lim
	}
	mine := lim.ReserveN(now, 1)
	if d := mine.DelayFrom(now); d > 0 {
		mine.CancelAt(now)
		return d, false
	}
	all := l.global.ReserveN(now, 1)
	if d := all.DelayFrom(now); d > 0 {
		all.CancelAt(now)
		mine.CancelAt(now)
		return d, false
	}
	return 0, true
}

// clientAddr is the address a request came from, without its port. X-Forwarded-For is not
// read, because a client can write it: behind a front that forwards every client from its
// own address, the per-address limit acts as a second global one.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func errTooManyLogins(wait time.Duration) error {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	return &httpError{status: http.StatusTooManyRequests, reason: "rateLimitExceeded",
		message:    "Rate Limit Exceeded: too many sign-in attempts; retry in " + strconv.Itoa(secs) + " s",
		retryAfter: strconv.Itoa(secs)}
}
