package workspacesim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
)

// Partial responses: Google's APIs answer with only the fields the `fields` system
// parameter selects (developers.google.com/admin-sdk/directory/v1/guides/performance).
// The selection is a comma-separated list of field names; a/b selects b within a, and
// a(b,c) selects b and c within a, for each element when a is a list; * selects every
// field at its level. A selection Google cannot take (malformed, or naming a field the
// resource does not have) is a 400 "Invalid field selection".

// A fieldSelection maps a selected field's JSON name to what is selected within it: nil
// for the whole field.
type fieldSelection map[string]fieldSelection

// maxFieldsLen bounds a selection: Google's own are a few hundred bytes.
const maxFieldsLen = 2048

// parseFields parses a `fields` parameter.
func parseFields(s string) (fieldSelection, *apiError) {
	if len(s) > maxFieldsLen {
		return nil, invalidFields(s[:32] + "…")
	}
	p := fieldsParser{s: s}
	sel := fieldSelection{}
	if !p.list(sel, 0) || p.i != len(s) {
		return nil, invalidFields(s)
	}
	return sel, nil
}

type fieldsParser struct {
	s string
	i int
}

// maxFieldsDepth bounds nesting, so that a hostile selection cannot recurse deeply.
const maxFieldsDepth = 16

// list parses item (',' item)* into sel.
func (p *fieldsParser) list(sel fieldSelection, depth int) bool {
	if depth > maxFieldsDepth {
		return false
	}
	for {
		if !p.item(sel, depth) {
			return false
		}
		if p.i == len(p.s) || p.s[p.i] != ',' {
			return true
		}
		p.i++
	}
}

// item parses name ('/' name)* ['(' list ')'] into sel.
func (p *fieldsParser) item(sel fieldSelection, depth int) bool {
	path := []string{}
	for {
		name := p.name()
		if name == "" {
			return false
		}
		path = append(path, name)
		if p.i == len(p.s) || p.s[p.i] != '/' {
			break
		}
		p.i++
	}
	var sub fieldSelection // nil: the whole field
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		sub = fieldSelection{}
		if !p.list(sub, depth+1) || p.i == len(p.s) || p.s[p.i] != ')' {
			return false
		}
		p.i++
	}
	sel.add(path, sub)
	return true
}

func (p *fieldsParser) name() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == '*' || c == '$' || c == '.' || c == '-' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// add selects sub under path; a field selected whole stays whole.
func (sel fieldSelection) add(path []string, sub fieldSelection) {
	name := path[0]
	cur, seen := sel[name]
	if seen && cur == nil {
		return // already whole
	}
	if len(path) == 1 {
		if sub == nil {
			sel[name] = nil
			return
		}
		if cur == nil {
			cur = fieldSelection{}
		}
		for k, v := range sub {
			cur.add([]string{k}, v)
		}
		sel[name] = cur
		return
	}
	if cur == nil {
		cur = fieldSelection{}
	}
	cur.add(path[1:], sub)
	sel[name] = cur
}

// check reports the first field sel names that values of type t do not have, "" when
// it names none.
func (sel fieldSelection) check(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
	case reflect.Map, reflect.Interface:
		return "" // free-form: any name may be there
	default:
		for name := range sel {
			return name // a scalar has no fields
		}
		return ""
	}
	for name, sub := range sel {
		if name == "*" {
			continue
		}
		f, ok := jsonField(t, name)
		if !ok {
			return name
		}
		if sub != nil {
			if bad := sub.check(f.Type); bad != "" {
				return name + "/" + bad
			}
		}
	}
	return ""
}

// jsonField finds the field of struct type t that encodes under name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// apply keeps of v, a decoded JSON value, what sel selects.
func (sel fieldSelection) apply(v any) any {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			x[i] = sel.apply(e)
		}
		return x
	case map[string]any:
		if _, all := sel["*"]; all && sel["*"] == nil {
			return x
		}
		out := make(map[string]any, len(sel))
		for name, sub := range sel {
			if name == "*" {
				for k, e := range x {
					if _, named := sel[k]; !named {
						out[k] = sub.apply(e)
					}
				}
				continue
			}
			e, ok := x[name]
			if !ok {
				continue
			}
			if sub == nil {
				out[name] = e
			} else {
				out[name] = sub.apply(e)
			}
		}
		return out
	}
	return v
}

// requestedFields is the request's `fields` selection: nil without the parameter.
func requestedFields(r *http.Request) (fieldSelection, *apiError) {
	fields := r.URL.Query().Get("fields")
	if fields == "" {
		return nil, nil
	}
	return parseFields(fields)
}

// partial returns what of v the selection keeps, as a value to encode.
func (sel fieldSelection) partial(v any) (any, *apiError) {
	if bad := sel.check(reflect.TypeOf(v)); bad != "" {
		return nil, invalidFields(bad)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "backendError", "encoding the answer: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // numbers stay as written
	var decoded any
	if err := d.Decode(&decoded); err != nil {
		return nil, errorf(http.StatusInternalServerError, "backendError", "encoding the answer: %v", err)
	}
	return sel.apply(decoded), nil
}

func invalidFields(what string) *apiError {
	return errorf(http.StatusBadRequest, "invalidParameter", "Invalid field selection %s", what)
}
