package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/activity"
)

// FuzzDecodePage checks that no activities.list answer makes the backfill's decoding
// panic, and that what it accepts holds at most a page of activities, each of which
// activity.Parse either refuses or turns into events.
func FuzzDecodePage(f *testing.F) {
	f.Add(`{"kind":"admin#reports#activities","items":[{"kind":"admin#reports#activity","id":{"time":"2026-11-22T10:00:00Z","uniqueQualifier":"1","applicationName":"admin"},"actor":{"email":"a@x"},"events":[{"type":"GROUP_SETTINGS","name":"ADD_GROUP_MEMBER","parameters":[{"name":"GROUP_EMAIL","value":"g@x"},{"name":"USER_EMAIL","value":"u@x"}]}]}],"nextPageToken":"t"}`)
	f.Add(`{"kind":"admin#reports#activities"}`)
	f.Add(`{"kind":"admin#directory#groups","items":[]}`)
	f.Add(`{"items":[1,"x",null,{}]}`)
	f.Add(`{"items":`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		items, _, err := decodePage(strings.NewReader(body))
		if err != nil {
			return
		}
		if len(items) > BackfillPageSize {
			t.Fatalf("%d items accepted", len(items))
		}
		for _, raw := range items {
			events, err := activity.Parse(bytes.Clone(raw))
			if err == nil && len(events) == 0 {
				t.Fatalf("an activity parsed into no events: %s", raw)
			}
		}
	})
}
