package api

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// A queryMemo keeps the query strings reads ask with, parsed. A syncer polls with the
// same few (maxResults=200, transitive=true), and parsing one was a map and its slices
// per request. The values are shared between requests: handlers read them and never
// change them.
//
// It holds at most queryMemoSize queries of at most queryMemoLen bytes; queries with a
// page token, unique to a page of a moment, are parsed each time and never kept.
type queryMemo struct {
	m sync.Map // RawQuery → url.Values
	n atomic.Int64
}

const (
	queryMemoSize = 1024
	queryMemoLen  = 256
)

// of returns r's query parameters, as r.URL.Query would.
func (q *queryMemo) of(r *http.Request) url.Values {
	raw := r.URL.RawQuery
	if raw == "" {
		return nil
	}
	if v, ok := q.m.Load(raw); ok {
		return v.(url.Values)
	}
	v, _ := url.ParseQuery(raw) // r.URL.Query drops what does not parse the same way
	if len(raw) <= queryMemoLen && !strings.Contains(raw, "pageToken") && q.n.Load() < queryMemoSize {
		if _, loaded := q.m.LoadOrStore(raw, v); !loaded {
			q.n.Add(1)
		}
	}
	return v
}
