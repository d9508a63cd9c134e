package syncplan

import (
	"math"
	"time"
)

// Progress is how far a sweep has come, measured on one clock.
type Progress struct {
	Done, Total int64 // groups whose members are stored, of the groups the sweep handles
	Calls       int64 // Directory calls made by the sweep
	// ListingDone is set once the last groups.list page is read: until then Total grows.
	ListingDone bool
	Started     time.Time
	Now         time.Time
}

// Elapsed is the time since the sweep started.
func (p Progress) Elapsed() time.Duration {
	if p.Started.IsZero() || p.Now.Before(p.Started) {
		return 0
	}
	return p.Now.Sub(p.Started)
}

// Fraction is the share of groups done, in [0, 1].
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return math.Min(1, float64(p.Done)/float64(p.Total))
}

// Rate is groups done per second so far.
func (p Progress) Rate() float64 {
	s := p.Elapsed().Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.Done) / s
}

// CallRate is Directory calls per second so far.
func (p Progress) CallRate() float64 {
	s := p.Elapsed().Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.Calls) / s
}

// ETA is the time left at the rate so far. ok is false while it cannot be told: nothing
// done yet, or the listing still growing the total.
func (p Progress) ETA() (left time.Duration, ok bool) {
	rate := p.Rate()
	if rate <= 0 || !p.ListingDone {
		return 0, false
	}
	rest := p.Total - p.Done
	if rest <= 0 {
		return 0, true
	}
	return time.Duration(float64(rest) / rate * float64(time.Second)), true
}

// Finished reports whether every group of the sweep is done.
func (p Progress) Finished() bool { return p.ListingDone && p.Done >= p.Total }
