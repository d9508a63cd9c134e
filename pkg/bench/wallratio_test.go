package bench

import (
	"testing"

	"github.com/greephq/greep/pkg/queueconfig"
)

func TestWallRatio(t *testing.T) {
	// 950 calls at 36/s need 26.39 s: a 27.7 s sync is 1.05 of that.
	if r, ok := wallRatio(27.7, 950, 36); !ok || r != 1.0497 {
		t.Errorf("wallRatio = %v, %v; want 1.0497", r, ok)
	}
	for _, c := range []struct {
		s     float64
		calls int64
		rate  float64
	}{{0, 950, 36}, {27.7, 0, 36}, {27.7, 950, 0}} {
		if _, ok := wallRatio(c.s, c.calls, c.rate); ok {
			t.Errorf("wallRatio%v gave a figure", c)
		}
	}
}

func TestUsableRateIsTheWindows(t *testing.T) {
	q, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The Directory window's 2,400 a minute less 10%: what a sweep may borrow whole.
	if r := usableRate(q, "directory"); r != 36 {
		t.Errorf("usable Directory rate %v, want 36", r)
	}
	if r := usableRate(q, "drive"); r != 0 {
		t.Errorf("usable rate of an API no lane spends: %v", r)
	}
}
