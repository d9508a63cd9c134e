package bolt

import (
	"encoding/binary"
	"time"
)

// The embedded store's binary values (group records, the head of a members value) are
// fields in order: strings as a uvarint length and bytes, lists as a uvarint count and
// strings, integers as varints, times as cache.TimeKey.

// timeKeyLen is the length of cache.TimeKey's encoding.
const timeKeyLen = 12

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// fieldReader reads a value's fields in order; the first bad one sets bad, and every
// read after it returns zero values.
type fieldReader struct {
	b []byte
	// s, when set, is one copy of b that the strings read share (a whole record's);
	// unset, each string is copied on its own (a value's head only).
	s   string
	i   int
	bad bool
}

func (r *fieldReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.i += n
	return v
}

// varint reads what binary.AppendVarint wrote: a zig-zag encoded uvarint.
func (r *fieldReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (r *fieldReader) string() string {
	l := r.uvarint()
	if r.bad || l > uint64(len(r.b)-r.i) {
		r.bad = true
		return ""
	}
	var s string
	if r.s != "" {
		s = r.s[r.i : r.i+int(l)]
	} else {
		s = string(r.b[r.i : r.i+int(l)])
	}
	r.i += int(l)
	return s
}

func (r *fieldReader) strings() []string {
	n := r.uvarint()
	// Every string takes at least a byte, which bounds what a corrupt count allocates.
	if r.bad || n > uint64(len(r.b)-r.i) {
		r.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.string()
	}
	return ss
}

func (r *fieldReader) time() time.Time {
	if r.bad || len(r.b)-r.i < timeKeyLen {
		r.bad = true
		return time.Time{}
	}
	t, ok := timeFromKey(r.b[r.i : r.i+timeKeyLen])
	if !ok {
		r.bad = true
	}
	r.i += timeKeyLen
	return t
}

// timeFromKey reverses cache.TimeKey, in UTC; the zero time comes back as the zero time.
func timeFromKey(k []byte) (time.Time, bool) {
	sec := int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63))
	nsec := binary.BigEndian.Uint32(k[8:])
	if nsec >= 1e9 {
		return time.Time{}, false
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.Equal(time.Time{}) {
		return time.Time{}, true
	}
	return t, true
}
