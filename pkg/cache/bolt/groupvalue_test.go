package bolt

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func sampleGroup() greep.Group {
	return greep.Group{
		ID: "g1", Email: "eng@example.com", Aliases: []string{"a@example.com", "b@example.com"},
		NonEditableAliases: []string{"eng@test.example.com"}, Name: "Eng \"core\"", Description: "line\nbreak",
		DirectMembersCount: 42, ETag: `"etag"`, SyncedAt: time.Date(2026, 12, 5, 1, 2, 3, 4, time.UTC),
		MembersSyncedAt: time.Date(2026, 12, 5, 1, 3, 0, 0, time.UTC), MembersETag: `"m"`, Generation: 7,
	}
}

func TestGroupRecordRoundTrip(t *testing.T) {
	for _, g := range []greep.Group{sampleGroup(), {ID: "g", Email: "g@example.com"}, {DirectMembersCount: -1, Generation: -5}} {
		got, err := decodeGroup(encodeGroup(g))
		if err != nil || !reflect.DeepEqual(got, g) {
			t.Errorf("decodeGroup(encodeGroup(%+v)) = %+v, %v", g, got, err)
		}
	}
}

// A record written before the binary format is JSON, and reads the same.
func TestGroupRecordOfEarlierStores(t *testing.T) {
	g := sampleGroup()
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeGroup(b)
	if err != nil || !reflect.DeepEqual(got, g) {
		t.Errorf("decodeGroup(JSON) = %+v, %v; want %+v", got, err, g)
	}
	if _, err := decodeGroup(nil); err == nil {
		t.Error("decodeGroup(nil) did not fail")
	}
}

// FuzzDecodeGroup: any record gives a group or an error, never a panic; a group that
// decodes encodes to a record that decodes to it again.
func FuzzDecodeGroup(f *testing.F) {
	f.Add(encodeGroup(sampleGroup()))
	f.Add(encodeGroup(greep.Group{}))
	f.Add([]byte(`{"id":"g","email":"g@example.com"}`))
	f.Add([]byte{groupFormat, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := decodeGroup(b)
		if err != nil || (len(b) > 0 && b[0] == '{') {
			return
		}
		again, err := decodeGroup(encodeGroup(g))
		if err != nil || !reflect.DeepEqual(again, g) {
			t.Fatalf("%x decoded to %+v, which reads back as %+v, %v", b, g, again, err)
		}
	})
}
