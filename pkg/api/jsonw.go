package api

import (
	"strconv"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/jsonw"
)

// The hot paths write JSON by appending to byte slices: member lists are rendered once per
// snapshot and pages are stitched from the rendered pieces, so a request allocates little
// beyond its response buffer. Everything else uses encoding/json.

// appendField appends ,"name":"value" (or "name":"value" when first).
func appendField(b []byte, first bool, name, value string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return jsonw.AppendString(b, value)
}

// appendTime appends t as a JSON RFC 3339 string, or null for the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// Response buffers are pooled: a page of members is tens of kilobytes, and allocating one
// per request makes the garbage collector, not the handler, the cost of a busy server.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// getBuf returns an empty buffer with room for at least n bytes; putBuf gives it back
// once the answer is written.
func getBuf(n int) *[]byte {
	p := bufPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, 0, n)
	}
	*p = (*p)[:0]
	return p
}

func putBuf(p *[]byte) {
	if cap(*p) <= 1<<20 { // keep the pool from pinning a rare huge answer
		bufPool.Put(p)
	}
}
