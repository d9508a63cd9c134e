package quota

import (
	"time"

	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/syncplan"
)

// Calendar is a quota day's zone: where midnight ends one day and starts the next.
type Calendar struct{ Zone *time.Location }

// DefaultCalendar is queues.yaml's default zone (queueconfig.DefaultTimeZone), for code
// run without a guard (unit tests); a running service takes its guard's calendar.
func DefaultCalendar() Calendar { return Calendar{Zone: defaultZone} }

var defaultZone = func() *time.Location {
	loc, err := time.LoadLocation(queueconfig.DefaultTimeZone)
	if err != nil {
		// No tz database (a bare container): UTC-8, off by an hour in summer, which
		// only delays a reschedule.
		return time.FixedZone("PST", -8*60*60)
	}
	return loc
}()

// Day returns the quota day t falls in (its date in the zone) and when it ends.
func (c Calendar) Day(t time.Time) (day string, resetAt time.Time) {
	zone := c.Zone
	if zone == nil {
		zone = time.UTC
	}
	local := t.In(zone)
	y, m, d := local.Date()
	// time.Date normalises day d+1 across month ends and finds midnight even on the
	// days daylight saving time changes.
	return local.Format("2006-01-02"), time.Date(y, m, d+1, 0, 0, 0, 0, zone)
}

// Days is what a worker needs of the guard: the quota day a time falls in and its end.
type Days interface {
	Day(t time.Time) (day string, resetAt time.Time)
}

// Classifier decides how a failed Google call is settled, with days as the quota
// calendar (for Google's dailyLimitExceeded, which carries no reset time) and the guard's
// own refusals recognised with their reset time.
func Classifier(days Days) syncplan.Classifier {
	return syncplan.Classifier{
		NextReset: func(t time.Time) time.Time { _, r := days.Day(t); return r },
		Refused:   ResetAfter,
	}
}
