package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestAddrIsBelowTheEphemeralRange: the port is one a process can bind, and one the
// kernel never hands out to an outgoing connection or a listener on port 0.
func TestAddrIsBelowTheEphemeralRange(t *testing.T) {
	lo, ok := ephemeralLow()
	for range 20 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port < low || (ok && port >= lo) || (!ok && port > high) {
			t.Fatalf("port %d outside %d to the ephemeral range's start (%d, read: %v)", port, low, lo, ok)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s was given as free: %v", addr, err)
		}
		ln.Close()
	}
}
