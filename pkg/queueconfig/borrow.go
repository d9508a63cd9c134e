package queueconfig

import "math"

// BorrowedRates is the rate each background lane should dispatch at when the lanes for
// which busy answers false have no work: its own rate plus the rates of the idle push
// lanes of its window, split between the window's background lanes by share, never above
// its ceiling. It is how a Cloud Tasks sweep queue borrows what push work leaves (the
// lanes controller in pkg/queue/cloudtasks sets these rates); push lanes keep theirs and
// are left out.
func (c *Config) BorrowedRates(busy func(lane string) bool) map[string]float64 {
	idle := map[string]float64{}       // pool -> the idle push lanes' rates
	background := map[string]float64{} // pool -> the background lanes' shares
	for _, l := range c.Lanes {
		switch p := l.Pool(); {
		case p == "":
		case l.Background:
			background[p] += l.Share
		case !busy(l.Name):
			idle[p] += l.RatePerSecond()
		}
	}
	out := map[string]float64{}
	for name, l := range c.Lanes {
		if !l.Background || l.Pool() == "" {
			continue
		}
		p := l.Pool()
		out[name] = math.Min(l.RatePerSecond()+idle[p]*l.Share/background[p], l.CeilingPerSecond())
	}
	return out
}
