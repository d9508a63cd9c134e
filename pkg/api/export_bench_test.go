package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
)

// BenchmarkHistoryExportDay exports one day of history from the embedded store: 2,050
// events, the origin-size day scenario's (2,000 membership and 50 settings changes, each
// one event), and a busier day of 100,000 for scale. It reports the bytes of each format.
// go test -run '^$' -bench HistoryExportDay -benchtime 3x ./pkg/api
func BenchmarkHistoryExportDay(b *testing.B) {
	for _, n := range []int{2_050, 100_000} {
		day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		store, err := bolt.Open(filepath.Join(b.TempDir(), "greep.db"))
		if err != nil {
			b.Fatal(err)
		}
		events := make([]greep.Event, 0, 1000)
		for i := range n {
			e := greep.Event{ID: fmt.Sprintf("admin:%d:0", i), Time: day.Add(time.Duration(i) * 24 * time.Hour / time.Duration(n)),
				Application: "admin", Actor: "admin@example.com", Event: "ADD_GROUP_MEMBER",
				Group: fmt.Sprintf("team-%05d@example.com", i%45000), Member: fmt.Sprintf("user.%04d@example.com", i%5000)}
			if i%40 == 0 {
				e.Event, e.Member, e.Setting, e.OldValue, e.NewValue = "CHANGE_GROUP_SETTING", "", "whoCanViewGroup", "ALL_MEMBERS_CAN_VIEW", "ANYONE_CAN_VIEW"
			}
			if events = append(events, e); len(events) == cap(events) || i == n-1 {
				if _, err := store.AddEvents(context.Background(), events); err != nil {
					b.Fatal(err)
				}
				events = events[:0]
			}
		}
		a, _ := auth.NewStaticToken(apiToken)
		h, err := api.New(api.Config{Store: store, Auth: a, Now: func() time.Time { return day.Add(30 * time.Hour) }})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(h)
		for _, format := range []string{"json", "ndjson", "csv"} {
			b.Run(fmt.Sprintf("%d/%s", n, format), func(b *testing.B) {
				var size int64
				for b.Loop() {
					req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/history?format="+format+"&since="+url.QueryEscape(day.Format(time.RFC3339))+
						"&until="+url.QueryEscape(day.Add(24*time.Hour).Format(time.RFC3339)), nil)
					req.Header.Set("Authorization", "Bearer "+apiToken)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					size, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err != nil || res.StatusCode != http.StatusOK {
						b.Fatalf("%d %v", res.StatusCode, err)
					}
				}
				b.ReportMetric(float64(size), "bytes")
			})
		}
		srv.Close()
		store.Close()
	}
}
