package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// writeCounter is a ResponseWriter that counts the handler's Writes.
type writeCounter struct {
	h      http.Header
	status int
	writes int
	body   []byte
}

func (w *writeCounter) Header() http.Header { return w.h }
func (w *writeCounter) WriteHeader(s int)   { w.status = s }
func (w *writeCounter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.writes++
	w.body = append(w.body, b...)
	return len(b), nil
}

// TestPageIsOneWrite: a /v1 member page, a cached page followed by the trailer made for
// each request, reaches net/http in one Write. net/http sends a Write larger than its
// 4 KB buffer straight to the socket, so the two parts written apart cost a write system
// call more per answer than the static server the read bench compares with.
func TestPageIsOneWrite(t *testing.T) {
	s := newTestServer(t, fixture(), nil)
	for _, try := range []string{"rendered", "from the page cache"} {
		w := &writeCounter{h: http.Header{}}
		r := httptest.NewRequest(http.MethodGet, "/v1/groups/big@example.com/members?maxResults=200", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		s.router.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", try, w.status, w.body)
		}
		if w.writes != 1 {
			t.Errorf("%s: the answer took %d Writes, want 1", try, w.writes)
		}
		if n, _ := strconv.Atoi(w.h.Get("Content-Length")); n != len(w.body) {
			t.Errorf("%s: Content-Length %s for a %d-byte body", try, w.h.Get("Content-Length"), len(w.body))
		}
		var p struct {
			Members []json.RawMessage `json:"members"`
			Cursor  string            `json:"feedCursor"`
		}
		if err := json.Unmarshal(w.body, &p); err != nil || len(p.Members) != 200 {
			t.Fatalf("%s: %d members, %v: %.200s", try, len(p.Members), err, w.body)
		}
	}
}
