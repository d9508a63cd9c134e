package workspacesim

import (
	"reflect"
	"testing"
)

// parseFields takes any `fields` parameter apart without panicking; what it accepts
// checks against a response type and applies to any decoded answer.
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{"nextPageToken,members(id,email,role,type,status)", "members/email", "a(b(c,d),e/f)", "*", "items(*)",
		"groups(id", "(", ")", ",", "a//b", "a(,)", ""} {
		f.Add(s)
	}
	answer := map[string]any{"members": []any{map[string]any{"id": "1", "email": "a@example.com"}, "x"}, "nextPageToken": "t"}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseFields(s)
		if err != nil {
			if sel != nil {
				t.Errorf("%q refused with a selection %v", s, sel)
			}
			return
		}
		if len(sel) == 0 {
			t.Errorf("%q accepted as an empty selection", s)
		}
		sel.check(reflect.TypeOf(&dirMembers{}))
		sel.apply(answer)
	})
}

func TestParseFields(t *testing.T) {
	for s, want := range map[string]fieldSelection{
		"a":            {"a": nil},
		"a,b/c":        {"a": nil, "b": {"c": nil}},
		"a(b,c/d)":     {"a": {"b": nil, "c": {"d": nil}}},
		"a/b,a":        {"a": nil},
		"a/b,a/c":      {"a": {"b": nil, "c": nil}},
		"a(b),a(c(d))": {"a": {"b": nil, "c": {"d": nil}}},
		"members(*),x": {"members": {"*": nil}, "x": nil},
	} {
		got, err := parseFields(s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseFields(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "a(", "a)", "a(b", "a()", "a,", ",a", "a//b", "a/", "a b", "a(b))"} {
		if _, err := parseFields(s); err == nil {
			t.Errorf("parseFields(%q) accepted", s)
		}
	}
}
