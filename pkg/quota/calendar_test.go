package quota_test

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/syncplan"
)

// TestClassifierFollowsTheCalendar: Google's dailyLimitExceeded, which carries no reset
// time, is rescheduled to the end of the calendar's quota day (queues.yaml's timeZone in
// a service: the guard), and the guard's own refusal to its reset.
func TestClassifierFollowsTheCalendar(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC) // 05:00 on the 4th in Tokyo
	daily := &googleapi.Error{Code: http.StatusForbidden, Errors: []googleapi.ErrorItem{{Reason: "dailyLimitExceeded"}}}
	v := quota.Classifier(quota.Calendar{Zone: tokyo}).Classify(daily, now)
	if want := time.Date(2026, 12, 5, 0, 0, 0, 0, tokyo); v.Action != syncplan.Reschedule || !v.ResetAt.Equal(want) {
		t.Errorf("daily limit: %+v, want a reschedule at %v", v, want)
	}
	at := now.Add(time.Hour)
	v = quota.Classifier(quota.Calendar{Zone: tokyo}).Classify(&quota.ExhaustedError{ResetAt: at}, now)
	if v.Action != syncplan.Reschedule || !v.ResetAt.Equal(at) {
		t.Errorf("guard's refusal: %+v, want a reschedule at its reset %v", v, at)
	}
	if d, _ := quota.DefaultCalendar().Day(now); d != now.In(mustZone(t, queueconfig.DefaultTimeZone)).Format("2006-01-02") {
		t.Errorf("default calendar's day %s: want queues.yaml's default zone's", d)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skip("no tz database:", err)
	}
	return loc
}
