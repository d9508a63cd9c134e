// Package freeport picks a loopback address for a process that binds it itself (a
// service the cluster starts, an emulator), with nothing else likely to take it first.
//
// Listening on port 0 and closing would do, but the kernel hands out that port from the
// same ephemeral range as the source ports of outgoing connections: with two test runs
// on one machine, a connection took such a port between its close and the service's
// bind ("bind: address already in use"). A port below the ephemeral range is never
// given out by the kernel; only another process choosing it on purpose can collide.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// low and high bound the ports tried when the ephemeral range cannot be read: below
// Linux's default range (32768-60999).
const (
	low  = 20000
	high = 32767
)

// Addr returns "127.0.0.1:PORT" for a port below the kernel's ephemeral range that was
// free when tried.
func Addr() (string, error) {
	hi := high
	if lo, ok := ephemeralLow(); ok && lo-1 < hi {
		hi = lo - 1
	}
	if hi <= low {
		hi = low + 1000
	}
	var last error
	for range 50 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(low+rand.IntN(hi-low+1)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			last = err
			continue
		}
		ln.Close()
		return addr, nil
	}
	return "", fmt.Errorf("freeport: no free loopback port in %d-%d: %w", low, hi, last)
}

// ephemeralLow reads the low end of the kernel's ephemeral port range.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	n, err := strconv.Atoi(f[0])
	return n, err == nil
}
