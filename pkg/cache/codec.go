package cache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// Member lists are stored encoded as one value (the embedded store: one per snapshot;
// Datastore: one per chunk of a snapshot), so reading a group's members is one lookup
// and one pass over a byte slice, with two allocations whatever the group's size (JSON
// would cost an allocation per field and dominate the read API's profile):
//
//	format byte (SnapshotFormat) | uvarint version | uvarint count |
//	count × (id, email, role, type, status), each a uvarint length and bytes.
const SnapshotFormat = 1

// ErrCorruptSnapshot is returned for a value that is not an encoded member list.
var ErrCorruptSnapshot = errors.New("corrupt member snapshot")

// EncodeSnapshot encodes a member list with a version number.
func EncodeSnapshot(version uint64, ms []greep.Member) []byte {
	return AppendSnapshot(make([]byte, 0, SnapshotSize(ms)), version, ms)
}

// SnapshotSize is the most bytes EncodeSnapshot takes for ms.
func SnapshotSize(ms []greep.Member) int {
	n := 1 + 2*binary.MaxVarintLen64
	for _, m := range ms {
		n += 5*binary.MaxVarintLen32 + len(m.ID) + len(m.Email) + len(m.Role) + len(m.Type) + len(m.Status)
	}
	return n
}

// AppendSnapshot appends what EncodeSnapshot returns to b.
func AppendSnapshot(b []byte, version uint64, ms []greep.Member) []byte {
	b = append(b, SnapshotFormat)
	b = binary.AppendUvarint(b, version)
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		for _, s := range [...]string{m.ID, m.Email, m.Role, m.Type, m.Status} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// DecodeSnapshot decodes what EncodeSnapshot encoded. b may be memory the caller does
// not own (bbolt's): the result refers to one string copy of it, never to b.
func DecodeSnapshot(b []byte) (uint64, []greep.Member, error) {
	if len(b) == 0 || b[0] != SnapshotFormat {
		return 0, nil, ErrCorruptSnapshot
	}
	s := string(b) // the one copy every member's strings share
	i := 1
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(b[i:])
		if n <= 0 {
			return 0, false
		}
		i += n
		return v, true
	}
	version, ok := uvarint()
	if !ok {
		return 0, nil, ErrCorruptSnapshot
	}
	count, ok := uvarint()
	// Every member takes at least 5 bytes, which bounds an allocation a corrupt count
	// could otherwise make huge.
	if !ok || count > uint64(len(b)-i)/5 {
		return 0, nil, ErrCorruptSnapshot
	}
	ms := make([]greep.Member, count)
	for k := range ms {
		var f [5]string
		for j := range f {
			l, ok := uvarint()
			if !ok || l > uint64(len(b)-i) {
				return 0, nil, ErrCorruptSnapshot
			}
			f[j] = s[i : i+int(l)]
			i += int(l)
		}
		ms[k] = greep.Member{ID: f[0], Email: f[1], Role: f[2], Type: f[3], Status: f[4]}
	}
	if i != len(b) {
		return 0, nil, ErrCorruptSnapshot
	}
	return version, ms, nil
}

// TimeKey encodes t so that byte order is time order, at nanosecond precision, for any
// time (the zero time included): sign-flipped big-endian seconds, then nanoseconds.
func TimeKey(t time.Time) []byte {
	var k [12]byte
	binary.BigEndian.PutUint64(k[:8], uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(t.Nanosecond()))
	return k[:]
}
