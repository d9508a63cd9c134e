package api

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

// The memo answers as r.URL.Query would, keeps the queries a syncer repeats, and keeps
// neither page tokens nor more than its bound.
func TestQueryMemo(t *testing.T) {
	var q queryMemo
	for _, raw := range []string{"", "maxResults=200", "transitive=true&maxResults=5", "a=1&a=2", "bad=%zz&ok=1", "pageToken=abc&maxResults=3"} {
		r := httptest.NewRequest("GET", "/v1/groups?"+raw, nil)
		want := r.URL.Query()
		for range 2 { // the second answer comes from the memo where it was kept
			got := q.of(r)
			if len(want) == 0 && len(got) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%q: %v, want %v", raw, got, want)
			}
		}
	}
	if _, kept := q.m.Load("pageToken=abc&maxResults=3"); kept {
		t.Error("a query with a page token was kept")
	}
	if _, kept := q.m.Load("maxResults=200"); !kept {
		t.Error("a repeated query was not kept")
	}
	for i := range 2 * queryMemoSize {
		q.of(httptest.NewRequest("GET", "/v1/groups?maxResults="+fmt.Sprint(i), nil))
	}
	n := 0
	q.m.Range(func(any, any) bool { n++; return true })
	if n != queryMemoSize || q.n.Load() != queryMemoSize {
		t.Errorf("%d queries kept (counted %d), want the bound %d", n, q.n.Load(), queryMemoSize)
	}
	// Past the bound, queries are still parsed.
	r := httptest.NewRequest("GET", "/v1/groups?maxResults=99999", nil)
	if got := q.of(r); !reflect.DeepEqual(got, url.Values{"maxResults": {"99999"}}) {
		t.Errorf("past the bound: %v", got)
	}
}
