package directory

import (
	"reflect"
	"testing"
)

// FuzzPageMarker: any stored marker parses to a consistent marker or an error, never a
// panic; what encode writes parses back to itself, and a bare count (markers before they
// named their groups) is read as that count.
func FuzzPageMarker(f *testing.F) {
	f.Add([]byte(`{"n":2,"groups":["g1","g2"],"next":"tok"}`))
	f.Add([]byte(`{"n":0,"groups":[],"last":true}`))
	f.Add([]byte(`{"n":1,"groups":["g1"],"next":"t","last":true}`))
	f.Add([]byte(`{"n":3,"groups":["g1"]}`))
	f.Add([]byte(`{"n":-1}`))
	f.Add([]byte("200"))
	f.Add([]byte("-5"))
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parsePageMarker(data)
		if err != nil {
			return
		}
		if m.Count < 0 || (m.Groups != nil && len(m.Groups) != m.Count) || (m.Last && m.Next != "") {
			t.Fatalf("%q parsed to an inconsistent marker %+v", data, m)
		}
		b, err := m.encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := parsePageMarker(b)
		if err != nil || !reflect.DeepEqual(normal(back), normal(m)) {
			t.Fatalf("%+v encoded to %s, parsed back to %+v, %v", m, b, back, err)
		}
	})
}

// normal treats an empty group list as none: encode omits it.
func normal(m pageMarker) pageMarker {
	if len(m.Groups) == 0 {
		m.Groups = nil
	}
	return m
}
