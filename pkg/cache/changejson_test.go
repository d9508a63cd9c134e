package cache

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func sampleChange() greep.Change {
	return greep.Change{
		Cursor: 1234567, Time: time.Date(2026, 12, 4, 21, 36, 15, 674730530, time.UTC),
		GroupID: "02pyr81vgh0mdo", Group: "eng@example.com", Member: "ann@example.com",
		Kind:        greep.ChangeAdded,
		After:       &greep.ChangeValue{ID: "1001", Email: "ann@example.com", Role: "MEMBER", Type: "USER", Status: "ACTIVE"},
		ChangeCause: greep.ChangeCause{Cause: greep.CauseFullSync},
	}
}

// The hand-written encoding is encoding/json's, byte for byte: what the store wrote
// before reads back the same, and so does what it writes now.
func TestAppendChangeJSONIsEncodingJSON(t *testing.T) {
	full := sampleChange()
	full.Before = &greep.ChangeValue{ID: "1001", Email: "ann@example.com", Role: "OWNER"}
	full.Actor, full.ActivityID, full.Provisional, full.Reverted = "admin@example.com", "-123", true, true
	group := greep.Change{Cursor: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 9*3600)), GroupID: "g", Group: "g@example.com", Kind: greep.ChangeGroupCreated, After: &greep.ChangeValue{ID: "g", Email: "g@example.com", Name: "<Ops & \"Sec\">\u2028\t\x01\xff"}}
	for _, c := range []greep.Change{sampleChange(), full, group, {}, {Before: &greep.ChangeValue{}}} {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendChangeJSON([]byte("prefix"), c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("got  %s\nwant prefix%s", got, want)
		}
	}
	if _, err := AppendChangeJSON(nil, greep.Change{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("a time json.Marshal refuses was encoded")
	}
}

func FuzzAppendChangeJSON(f *testing.F) {
	f.Add(uint64(7), int64(1764884175), "g", "g@example.com", "m@example.com", "memberAdded", "<&>\"\\\u2029", "fullSync", true)
	f.Add(uint64(0), int64(0), "", "", "", "", "\xff\xfe\x00", "", false)
	f.Fuzz(func(t *testing.T, cursor uint64, unix int64, groupID, group, member, kind, value, cause string, before bool) {
		c := greep.Change{
			Cursor: cursor, Time: time.Unix(unix%(1<<40), 0).UTC(), GroupID: groupID, Group: group, Member: member, Kind: kind,
			After:       &greep.ChangeValue{ID: value, Email: member, Name: value, Status: kind},
			ChangeCause: greep.ChangeCause{Cause: cause, Actor: value, Provisional: before},
		}
		if before {
			c.Before = &greep.ChangeValue{Role: value}
		}
		want, wantErr := json.Marshal(c)
		got, err := AppendChangeJSON(nil, c)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, encoding/json's %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

func BenchmarkEncodeChange(b *testing.B) {
	c := sampleChange()
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendChangeJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AppendChangeJSON(nil, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
