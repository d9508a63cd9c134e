package local

import (
	"testing"
	"time"
)

// FuzzParseTombID: any record id gives a tombstone or an error, never a panic, and a
// tombstone's id reads back as what made it.
func FuzzParseTombID(f *testing.F) {
	f.Add("20260504T100100.000000000Z/work/n-a")
	f.Add("20260504T100100.000000000Z/")
	f.Add("/work/n-a")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, id string) {
		e, err := parseTombID(id)
		if err != nil {
			return
		}
		if e.key == "" || e.id != id || e.kind != kindTomb {
			t.Fatalf("parseTombID(%q) = %+v", id, e)
		}
		back := newExpiry(e.key, e.at)
		if !back.at.Equal(e.at) || back.key != e.key {
			t.Fatalf("newExpiry(%q, %v) = %+v", e.key, e.at, back)
		}
	})
}

func TestTombIDRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 5, 1, 2, 3, 4, time.FixedZone("x", 3600))
	e := newExpiry("work/n-a/b", at)
	got, err := parseTombID(e.id)
	if err != nil || !got.at.Equal(at) || got.key != "work/n-a/b" {
		t.Fatalf("parseTombID(%q) = %+v, %v", e.id, got, err)
	}
}
