package cache

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/greephq/greep/pkg/greep"
)

// AppendChangeJSON appends c as encoding/json encodes it, byte for byte (the fuzz target
// holds it to that), without reflection: the embedded store writes several records for
// every Directory call of a sync, and json.Marshal was about 5% of a sync's CPU.
func AppendChangeJSON(b []byte, c greep.Change) ([]byte, error) {
	b = slices.Grow(b, 384) // a member's record is about 260 bytes: one allocation, not five
	b = append(b, `{"cursor":"`...)
	b = strconv.AppendUint(b, c.Cursor, 10)
	b = append(b, `","time":`...)
	t, err := c.Time.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(b, t...)
	b = append(b, `,"groupId":`...)
	b = appendJSONString(b, c.GroupID)
	b = append(b, `,"group":`...)
	b = appendJSONString(b, c.Group)
	if c.Member != "" {
		b = append(b, `,"member":`...)
		b = appendJSONString(b, c.Member)
	}
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, c.Kind)
	if c.Before != nil {
		b = append(b, `,"before":`...)
		b = appendChangeValue(b, c.Before)
	}
	if c.After != nil {
		b = append(b, `,"after":`...)
		b = appendChangeValue(b, c.After)
	}
	b = appendField(b, ',', "cause", c.Cause)
	b = appendField(b, ',', "actor", c.Actor)
	b = appendField(b, ',', "activityId", c.ActivityID)
	if c.Provisional {
		b = append(b, `,"provisional":true`...)
	}
	if c.Reverted {
		b = append(b, `,"reverted":true`...)
	}
	return append(b, '}'), nil
}

func appendChangeValue(b []byte, v *greep.ChangeValue) []byte {
	b = append(b, '{')
	open := len(b)
	for _, f := range [...]struct{ name, value string }{
		{"id", v.ID}, {"email", v.Email}, {"name", v.Name}, {"role", v.Role}, {"type", v.Type}, {"status", v.Status},
	} {
		var sep byte
		if len(b) > open {
			sep = ','
		}
		b = appendField(b, sep, f.name, f.value)
	}
	return append(b, '}')
}

// appendField appends sep (none if 0), "name": and value, unless value is empty
// (omitempty).
func appendField(b []byte, sep byte, name, value string) []byte {
	if value == "" {
		return b
	}
	if sep != 0 {
		b = append(b, sep)
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return appendJSONString(b, value)
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoding with its default HTML escaping:
// '<', '>' and '&' as \u003c, \u003e and \u0026, control characters escaped, invalid
// UTF-8 as \ufffd, and U+2028 and U+2029 escaped for JSONP.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
