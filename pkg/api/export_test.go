package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/greep"
)

// historyFixture: 2,500 events one minute apart from t0-24h (more than two store pages of
// an export), the last one before the test server's now (t0+2h) with a value a
// spreadsheet would run.
func historyFixture() *memStore {
	s := fixture()
	start := t0.Add(-24 * time.Hour)
	var events []greep.Event
	for i := range 2500 {
		events = append(events, greep.Event{ID: fmt.Sprintf("e%05d", i), Time: start.Add(time.Duration(i) * time.Minute),
			Application: "admin", Actor: "admin@example.com", Event: "ADD_GROUP_MEMBER", Group: "big@example.com", Member: fmt.Sprintf("user%04d@example.com", i)})
	}
	events[1559].Event, events[1559].Setting, events[1559].NewValue = "CHANGE_GROUP_SETTING", "customFooterText", "=HYPERLINK(1)"
	if _, err := s.AddEvents(context.Background(), events); err != nil {
		panic(err) // the fixtures are built before a test has its *testing.T
	}
	return s
}

// A time range of the history exports as JSON, NDJSON or CSV: every event at or after
// since and before until, once, oldest first, across the store's pages.
func TestHistoryExport(t *testing.T) {
	s := newTestServer(t, historyFixture(), nil)
	since, until := t0.Add(-24*time.Hour+10*time.Minute), t0.Add(-24*time.Hour+1210*time.Minute)
	path := func(format string) string {
		return "/v1/history?since=" + url.QueryEscape(since.Format(time.RFC3339)) + "&until=" + url.QueryEscape(until.Format(time.RFC3339)) + "&format=" + format
	}
	wantIDs := func(ids []string) {
		t.Helper()
		if len(ids) != 1200 || ids[0] != "e00010" || ids[1199] != "e01209" {
			t.Fatalf("%d events from %v to %v, want 1200 from e00010 to e01209", len(ids), first(ids), last(ids))
		}
	}

	a := get(t, s.router, path("json"))
	var doc struct{ Events []greep.Event }
	a.decode(t, &doc)
	var ids []string
	for _, e := range doc.Events {
		ids = append(ids, e.ID)
	}
	wantIDs(ids)

	a = get(t, s.router, path("ndjson"))
	if a.code != http.StatusOK || a.header.Get("Content-Type") != "application/x-ndjson; charset=utf-8" {
		t.Fatalf("ndjson: %d %s", a.code, a.header.Get("Content-Type"))
	}
	ids = nil
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	for sc.Scan() {
		var e greep.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
		ids = append(ids, e.ID)
	}
	wantIDs(ids)

	a = get(t, s.router, path("csv"))
	rows, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	if err != nil || a.code != http.StatusOK {
		t.Fatalf("csv: %d %v", a.code, err)
	}
	if rows[0][0] != "id" || rows[0][9] != "newValue" {
		t.Errorf("csv header %v", rows[0])
	}
	ids = nil
	for _, r := range rows[1:] {
		ids = append(ids, r[0])
	}
	wantIDs(ids)

	// Without until the export runs to now (later events are not out yet); a formula stays
	// text in CSV.
	a = get(t, s.router, "/v1/history?format=csv&since="+url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339)))
	rows, _ = csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	if l := rows[len(rows)-1]; l[0] != "e01559" || l[9] != "'=HYPERLINK(1)" {
		t.Errorf("last csv row %v", l)
	}
}

// Bad ranges and formats are 400 in Google's error shape.
func TestHistoryExportBadInput(t *testing.T) {
	s := newTestServer(t, historyFixture(), nil)
	for _, q := range []string{
		"since=2026-03-01T10:00:00Z&until=2026-03-01T09:00:00Z&format=json", // until before since
		"since=2026-03-01T10:00:00Z&format=xml",                             // unknown format
		"since=2024-01-01T00:00:00Z&format=ndjson",                          // beyond the 400 days kept
		"since=yesterday&format=csv",
		"until=2026-03-01T10:00:00Z", // an export needs since
	} {
		a := get(t, s.router, "/v1/history?"+q)
		if a.code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, a.code, a.body)
			continue
		}
		a.googleError(t, http.StatusBadRequest, "invalid")
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// The retention is the configured one, for exports and plain listings alike: a since
// older than it is 400 in Google's error shape, one inside it is answered.
func TestHistoryRetentionConfigured(t *testing.T) {
	a, err := auth.NewStaticToken(token)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(2 * time.Hour)
	s, err := newServer(Config{Store: historyFixture(), Auth: a, Now: func() time.Time { return now }, AnswerTTL: -1, HistoryRetention: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	since := func(d time.Duration) string { return url.QueryEscape(now.Add(-d).Format(time.RFC3339)) }
	for _, q := range []string{"since=" + since(72*time.Hour) + "&format=ndjson", "since=" + since(72*time.Hour)} {
		ans := get(t, s.router, "/v1/history?"+q)
		ans.googleError(t, http.StatusBadRequest, "invalid")
		if !strings.Contains(string(ans.body), "retention of 2 days") {
			t.Errorf("%s: %s, want the retention named", q, ans.body)
		}
	}
	for _, q := range []string{"since=" + since(24*time.Hour) + "&format=ndjson", "since=" + since(24*time.Hour)} {
		if ans := get(t, s.router, "/v1/history?"+q); ans.code != http.StatusOK {
			t.Errorf("%s inside the retention: %d %s", q, ans.code, ans.body)
		}
	}
}
