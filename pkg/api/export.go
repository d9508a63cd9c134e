package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/history"
)

// DefaultHistoryRetention is Config.HistoryRetention's default: how far back history may
// be asked for, as far as the directory worker keeps it.
const DefaultHistoryRetention = history.DefaultRetention

// Export formats of GET /v1/history.
const (
	formatJSON   = "json"
	formatNDJSON = "ndjson"
	formatCSV    = "csv"
)

// exportPage is how many events one store read of an export takes.
const exportPage = 1000

// historyRange is a validated export request: events at or after since, before until.
type historyRange struct {
	since, until time.Time
	format       string
}

// parseHistoryRange reads since, until and format. It reports false when the request is
// a plain paged listing (neither until nor format given).
func (s *server) parseHistoryRange(r *http.Request) (historyRange, bool, error) {
	q := s.queries.of(r)
	h := historyRange{format: q.Get("format"), until: s.now()}
	if q.Get("until") == "" && h.format == "" {
		return h, false, nil
	}
	switch h.format {
	case "":
		h.format = formatJSON
	case formatJSON, formatNDJSON, formatCSV:
	default:
		return h, true, errInvalid("Invalid value for format: %q (must be json, ndjson or csv)", h.format)
	}
	var err error
	if h.since, err = timeParam(q.Get("since"), "since"); err != nil {
		return h, true, err
	}
	if v := q.Get("until"); v != "" {
		if h.until, err = timeParam(v, "until"); err != nil {
			return h, true, err
		}
	}
	if h.until.Before(h.since) {
		return h, true, errInvalid("Invalid range: until %s is before since %s", h.until.UTC().Format(time.RFC3339), h.since.UTC().Format(time.RFC3339))
	}
	return h, true, s.withinRetention(h.since)
}

// withinRetention refuses a since older than the history keeps: the answer would look
// complete while the events before the cutoff are pruned.
func (s *server) withinRetention(since time.Time) error {
	if oldest := s.now().Add(-s.retention); since.Before(oldest) {
		return errInvalid("Invalid value for since: %s is beyond the history's retention of %s (the oldest time is %s)",
			since.UTC().Format(time.RFC3339), retentionText(s.retention), oldest.UTC().Format(time.RFC3339))
	}
	return nil
}

// retentionText says a retention in days when it is whole days.
func retentionText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

func timeParam(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errInvalid("Required parameter: %s (an RFC 3339 time) for an export", name)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errInvalid("Invalid value for %s: %q (must be an RFC 3339 time such as 2026-01-02T15:04:05Z)", name, v)
	}
	return t, nil
}

// exportHistory streams every event of the range the client may see, oldest first, in
// the range's format, reading the store a page at a time so a day of a large tenant never
// sits in memory. An error after the first byte can only cut the stream short (the status
// is sent): it is logged, and the body ends without its closing.
func (s *server) exportHistory(w http.ResponseWriter, r *http.Request, h historyRange) {
	p := principalFrom(r.Context())
	q := greep.EventQuery{Since: h.since, Page: greep.Page{Limit: exportPage}}
	// The first page is read before anything is written, so a store that fails at once
	// still gets a proper error answer.
	if err := s.projector.CatchUp(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	events, next, err := s.store.Events(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	contentType := map[string]string{formatJSON: "application/json", formatNDJSON: "application/x-ndjson", formatCSV: "text/csv"}[h.format]
	w.Header().Set("Content-Type", contentType+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ew := newEventWriter(w, h.format)
	flusher, _ := w.(http.Flusher)
	for {
		for _, e := range events {
			if !e.Time.Before(h.until) {
				ew.close()
				return
			}
			if p.CanSeeGroup(e.Group) {
				ew.write(e)
			}
		}
		if next == "" || ew.err != nil {
			break
		}
		if flusher != nil {
			ew.flush()
			flusher.Flush()
		}
		q.Token = next
		if events, next, err = s.store.Events(r.Context(), q); err != nil {
			s.log.Warn("history export cut short", zap.Error(err))
			return
		}
	}
	ew.close()
}

// eventWriter writes events in one export format.
type eventWriter struct {
	w      http.ResponseWriter
	format string
	csv    *csv.Writer
	n      int
	err    error
}

var csvHeader = []string{"id", "time", "application", "actor", "event", "group", "member", "setting", "oldValue", "newValue", "cause", "cursor"}

func newEventWriter(w http.ResponseWriter, format string) *eventWriter {
	ew := &eventWriter{w: w, format: format}
	switch format {
	case formatCSV:
		ew.csv = csv.NewWriter(w)
		ew.err = ew.csv.Write(csvHeader)
	case formatJSON:
		_, ew.err = w.Write([]byte(`{"events":[`))
	}
	return ew
}

func (ew *eventWriter) write(e greep.Event) {
	if ew.err != nil {
		return
	}
	switch ew.format {
	case formatCSV:
		ew.err = ew.csv.Write([]string{e.ID, e.Time.UTC().Format(time.RFC3339Nano), e.Application, e.Actor, e.Event,
			e.Group, e.Member, csvSafe(e.Setting), csvSafe(e.OldValue), csvSafe(e.NewValue), e.Cause, e.Cursor})
	default:
		b, err := json.Marshal(e)
		if err != nil {
			ew.err = err
			return
		}
		if ew.format == formatJSON && ew.n > 0 {
			b = append([]byte{','}, b...)
		}
		if ew.format == formatNDJSON {
			b = append(b, '\n')
		}
		_, ew.err = ew.w.Write(b)
	}
	ew.n++
}

func (ew *eventWriter) flush() {
	if ew.csv != nil {
		ew.csv.Flush()
	}
}

func (ew *eventWriter) close() {
	if ew.err == nil && ew.format == formatJSON {
		_, ew.err = ew.w.Write([]byte("]}\n"))
	}
	ew.flush()
}

// csvSafe keeps a value a spreadsheet would take for a formula (a setting's value is
// whatever someone typed) as text.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') {
		return "'" + v
	}
	return v
}
