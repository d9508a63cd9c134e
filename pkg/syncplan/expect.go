package syncplan

import (
	"strings"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// Unmet returns the expectations a member snapshot does not show yet. Google's reads lag
// its writes, so a refresh right after a push event may still read the old list.
func Unmet(expect []tasks.Expectation, members []greep.Member) []tasks.Expectation {
	var out []tasks.Expectation
	for _, e := range expect {
		m, found := findMember(members, e.Member)
		switch {
		case e.Present && !found:
			out = append(out, e)
		case e.Present && e.Role != "" && !strings.EqualFold(m.Role, e.Role):
			out = append(out, e)
		case !e.Present && found:
			out = append(out, e)
		}
	}
	return out
}

func findMember(members []greep.Member, key string) (greep.Member, bool) {
	for _, m := range members {
		if strings.EqualFold(m.Email, key) || (m.ID != "" && m.ID == key) {
			return m, true
		}
	}
	return greep.Member{}, false
}

// Repoll is how a refresh whose expectations are unmet polls again: after Base, doubling
// each attempt up to Max, for at most Attempts re-polls; then the gap is recorded as a
// discrepancy.
type Repoll struct {
	Base     time.Duration
	Max      time.Duration
	Attempts int
}

// DefaultRepoll covers Google's usual read lag (seconds to a few minutes) and the ten
// minutes a nested-group change may take, in about half an hour of re-polls.
var DefaultRepoll = Repoll{Base: 15 * time.Second, Max: 8 * time.Minute, Attempts: 7}

// Next returns the delay before re-poll number attempt+1, and false when attempt has used
// up the re-polls.
func (r Repoll) Next(attempt int) (time.Duration, bool) {
	if attempt >= r.Attempts {
		return 0, false
	}
	d := r.Base
	for i := 0; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	if d > r.Max {
		d = r.Max
	}
	return d, true
}
