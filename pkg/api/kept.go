package api

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// A keptPage is one page of a snapshot with its whole answer prepared: the body and the
// header values, made once and shared by every request that gets them. A hot page then
// costs the lookups and one Write; encoding, hashing, formatting its headers and copying
// its 23 KB into a buffer each request were what set the page apart from a server writing
// the same bytes from memory.
//
// The /v1 page ends with a trailer that is not the page's own: the feed's cursor, which
// moves with any change in the tenant, and the time the list was read. The answer is
// remade when either moves, the page's bytes copied once, and kept for the requests after.
type keptPage struct {
	headLen   int  // the page's bytes before the trailer
	trailer   bool // whether answers end with appendTrailer's
	etag      string
	etagValue []string

	last atomic.Pointer[keptAnswer]
}

// keptAnswer is a page's whole answer for one feed cursor and read time. Nothing in it
// changes once made: requests write it concurrently.
type keptAnswer struct {
	cursor      string
	syncedAt    time.Time
	body        []byte
	lengthValue []string
	syncedValue []string // nil when syncedAt is zero
}

// newKeptPage keeps head, a page encoded in a buffer of its own that must not change
// afterwards, with its etag, and makes its answer for the feed's cursor and the read
// time; with trailer, its answers end with both.
func newKeptPage(head []byte, etag string, trailer bool, cursor string, syncedAt time.Time) *keptPage {
	p := &keptPage{headLen: len(head), trailer: trailer, etag: etag}
	if etag != "" {
		p.etagValue = []string{etag}
	}
	p.last.Store(p.makeAnswer(head, cursor, syncedAt))
	return p
}

// answer returns the page's answer for the feed's cursor and the read time, remade from
// the last one when either moved.
func (p *keptPage) answer(cursor string, syncedAt time.Time) *keptAnswer {
	a := p.last.Load()
	if a.cursor == cursor && a.syncedAt.Equal(syncedAt) {
		return a
	}
	a = p.makeAnswer(a.body[:p.headLen], cursor, syncedAt)
	p.last.Store(a)
	return a
}

func (p *keptPage) makeAnswer(head []byte, cursor string, syncedAt time.Time) *keptAnswer {
	a := &keptAnswer{cursor: cursor, syncedAt: syncedAt, body: head}
	if p.trailer {
		var tail [128]byte
		t := appendTrailer(tail[:0], cursor, syncedAt)
		a.body = append(make([]byte, 0, len(head)+len(t)), head...)
		a.body = append(a.body, t...)
	}
	a.lengthValue = []string{strconv.Itoa(len(a.body))}
	if !syncedAt.IsZero() {
		a.syncedValue = []string{syncedAt.UTC().Format(time.RFC3339Nano)}
	}
	return a
}

// serve writes the page's answer for the feed's cursor and the read time, or 304 when the
// request names its etag, as writeBody would, without allocating.
func (p *keptPage) serve(w http.ResponseWriter, r *http.Request, cursor string, syncedAt time.Time) {
	a := p.answer(cursor, syncedAt)
	// The keys are written canonical, as Header.Set would make them.
	h := w.Header()
	if a.syncedValue != nil {
		h["X-Greep-Synced-At"] = a.syncedValue
	}
	if p.etagValue != nil {
		h["Etag"] = p.etagValue
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, p.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h["Content-Type"] = jsonValue
	h["Content-Length"] = a.lengthValue
	w.WriteHeader(http.StatusOK)
	w.Write(a.body)
}
