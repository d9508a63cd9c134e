package metrics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/metrics"
)

// Every renewal makes a new watch channel: the channels remembered, and the gauge's
// series, stay at MaxChannels, the ones heard from longest ago forgotten first.
func TestChannelsRememberedAreBounded(t *testing.T) {
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	m := metrics.New(func() time.Time { return now })
	for i := range 3 * metrics.MaxChannels {
		now = now.Add(time.Minute)
		m.ObserveNotification(fmt.Sprintf("ch-%d", i), "accepted", "")
	}
	last := m.LastNotifications()
	if len(last) != metrics.MaxChannels {
		t.Fatalf("%d channels remembered, want %d", len(last), metrics.MaxChannels)
	}
	for i := 2 * metrics.MaxChannels; i < 3*metrics.MaxChannels; i++ {
		if _, ok := last[fmt.Sprintf("ch-%d", i)]; !ok {
			t.Errorf("recent channel ch-%d forgotten", i)
		}
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "greep_push_last_notification_timestamp_seconds" && len(f.GetMetric()) != metrics.MaxChannels {
			t.Errorf("%d series of %s, want %d", len(f.GetMetric()), f.GetName(), metrics.MaxChannels)
		}
	}
}
